//! Every kind of impure call sluicegate-core's clippy.toml must refuse, one function per kind.

pub fn clock() {
    let _ = std::time::SystemTime::now();
    let _ = std::time::Instant::now();
    let _ = chrono::Utc::now();
    let _ = chrono::Local::now();
}

pub fn environment() {
    let _ = std::env::var("SLUICEGATE_PROBE");
    let _ = std::env::var_os("SLUICEGATE_PROBE");
    let _ = std::env::args();
    let _ = std::env::current_dir();
}

pub fn filesystem() {
    let _ = std::fs::read_to_string("probe");
    let _ = std::fs::write("probe", b"");
    let _ = std::fs::read_dir(".");
    let _ = std::fs::File::open("probe");
}

pub fn network() {
    let _ = std::net::TcpStream::connect("127.0.0.1:9");
    let _: Option<std::net::UdpSocket> = None;
}

pub fn process() {
    let _ = std::process::Command::new("true");
}

pub fn randomness() {
    let _ = std::collections::hash_map::RandomState::new();
}
