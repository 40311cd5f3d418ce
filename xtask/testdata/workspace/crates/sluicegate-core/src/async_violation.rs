//! Fixture for `async_fixture_is_refused`: async code in core, in every form the rule must see.

pub async fn fetch() -> u32 {
    1
}

pub struct Store;

impl Store {
    pub async fn load(&self) -> u32 {
        fetch().await
    }
}

pub fn spawn_later() {
    let _block = async { 1 };
    let _closure = async || 2;
    let _in_macro = format!("{}", later!(fetch().await));
}
