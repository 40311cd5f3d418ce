//! Fixture for `secret_fixture_is_refused`: credentials printed by a derived `Debug`.

#[derive(Debug, Clone)]
pub struct Connection {
    pub password: String,
    pub database_url: Option<String>,
    // Allowed: the name of an env var, a redacting wrapper, a count.
    pub database_url_env: String,
    pub token: Secret,
    pub tools_list_tokens: usize,
}

#[derive(Clone, serde::Serialize, Debug)]
pub enum Target {
    Http { url: Box<str>, bearer_token: Option<&'static str> },
    Stdio { command: String },
}

/// Allowed: no derived `Debug`, so nothing prints the field by accident.
#[derive(Clone)]
pub struct Handler {
    pub signing_secret: String,
}

/// Redacts in its (hand-written) `Debug`.
#[derive(Clone)]
pub struct Secret(String);

#[cfg(test)]
mod tests {
    /// Allowed: test code.
    #[derive(Debug)]
    struct Fake {
        password: String,
    }
}
