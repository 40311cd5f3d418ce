//! `synapsor.runner-registration.v1`: how a runner announces its engines and scope.

use serde::{Deserialize, Serialize};

pub const RUNNER_REGISTRATION_V1: &str = "synapsor.runner-registration.v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerRegistration {
    pub schema_version: String,
    pub runner_id: String,
    pub runner_version: String,
    pub engines: Vec<String>,
    pub capabilities: Vec<String>,
    pub scope: RegistrationScope,
    pub registered_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationScope {
    pub project_id: String,
    pub source_ids: Vec<String>,
}
