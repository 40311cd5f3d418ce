//! The rmcp `ServerHandler`, hand-written over the [`Surface`] (no `#[tool]` macros: the tools
//! come from the config). One handler value serves stdio and Streamable HTTP; it is a cheap
//! clone, since stateless 2026-07-28 requests get a fresh handler each.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation,
    ListResourceTemplatesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ResourceContents,
    ResourceTemplate, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::resources::{MIME, ResourceError, TEMPLATES};
use crate::surface::{CallError, INSTRUCTIONS, Surface};

struct Shared {
    surface: Arc<Surface>,
    info: ServerConfig,
    tools: Vec<Tool>,
    by_name: HashMap<String, usize>,
    templates: Vec<ResourceTemplate>,
}

/// The MCP handler. Clone it freely: everything lives behind one `Arc`.
#[derive(Clone)]
pub struct McpHandler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for McpHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpHandler")
            .field("tools", &self.shared.tools.len())
            .finish()
    }
}

impl McpHandler {
    /// Build the rmcp views of the surface once (tool objects, server info, templates).
    pub fn new(surface: Arc<Surface>) -> McpHandler {
        let mut tools = Vec::new();
        let mut by_name = HashMap::new();
        for definition in surface.tool_definitions() {
            // Definitions come from core and always fit the MCP Tool shape; a mismatch would
            // be a bug there, and dropping the tool is safer than advertising a broken one.
            match serde_json::from_value::<Tool>(definition.clone()) {
                Ok(tool) => {
                    by_name.insert(tool.name.to_string(), tools.len());
                    tools.push(tool);
                }
                Err(e) => {
                    tracing::error!(error = %e, "tool definition does not fit MCP; not listed")
                }
            }
        }
        let info = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_instructions(INSTRUCTIONS);
        let mut info = info;
        info.server_info = Implementation::new("sluicegate", env!("CARGO_PKG_VERSION"));
        let templates = TEMPLATES
            .iter()
            .map(|(name, uri, title)| {
                ResourceTemplate::new(*uri, *name)
                    .with_title(*title)
                    .with_mime_type(MIME)
            })
            .collect();
        McpHandler {
            shared: Arc::new(Shared {
                surface,
                info,
                tools,
                by_name,
                templates,
            }),
        }
    }

    pub fn surface(&self) -> &Arc<Surface> {
        &self.shared.surface
    }
}

fn resource_error(e: ResourceError) -> ErrorData {
    match e {
        ResourceError::UnknownUri(_) => ErrorData::resource_not_found(e.to_string(), None),
        ResourceError::Missing { .. }
        | ResourceError::StoreUnavailable
        | ResourceError::Internal(_) => ErrorData::internal_error(e.to_string(), None),
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.shared.tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let index = *self.shared.by_name.get(name)?;
        self.shared.tools.get(index).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.map(serde_json::Value::Object);
        match self.shared.surface.call(&request.name, arguments).await {
            Ok(result) => {
                // Same shape as `wrap_result` (mcp-surface.md §5.2), built directly.
                let mut out = CallToolResult::success(vec![rmcp::model::ContentBlock::text(
                    serde_json::to_string_pretty(&result.payload).unwrap_or_default(),
                )]);
                out.structured_content = Some(result.payload);
                out.is_error = result.is_error.then_some(true);
                Ok(out.into())
            }
            Err(e @ CallError::UnknownTool(_)) => {
                Err(ErrorData::invalid_params(e.to_string(), None))
            }
        }
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.shared.templates.clone(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let payload = self
            .shared
            .surface
            .read_resource(&request.uri)
            .await
            .map_err(resource_error)?;
        let text = serde_json::to_string_pretty(&payload).unwrap_or_default();
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(text, request.uri).with_mime_type(MIME),
        ])
        .into())
    }
}
