//! What the load harnesses share: percentiles, process CPU time, and a Streamable HTTP
//! client (start a server, open a session, find the JSON-RPC message in a response).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

/// The bearer token the harnesses start servers with (not a secret).
pub const TOKEN: &str = "bench-token-not-secret";

/// Nearest-rank percentile of sorted durations, in microseconds.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat` (clock ticks of
/// 10 ms: only differences over thousands of calls are meaningful).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The JSON-RPC message in a Streamable HTTP response (JSON or an SSE stream).
pub fn rpc_message(body: &str) -> Option<Value> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(body))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|v| v.get("result").is_some() || v.get("error").is_some())
}

pub async fn open_session(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let r = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"sluicegate-bench","version":"1"}}}"#)
        .send()
        .await?;
    let session = r
        .headers()
        .get("mcp-session-id")
        .context("no mcp-session-id")?
        .to_str()?
        .to_string();
    r.text().await?;
    client
        .post(url)
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .send()
        .await?;
    Ok(session)
}

/// Start an HTTP server (`cmd`, with `--port 0`) and return it with the URL it listens on.
pub fn start_http(mut cmd: Command) -> anyhow::Result<(Child, String)> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut reader = BufReader::new(child.stderr.take().context("stderr")?);
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("HTTP server did not start");
        }
        if let Some(url) = line.split("listening on ").nth(1) {
            let url = url.trim().to_string();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
            });
            return Ok((child, url));
        }
    }
}

/// POST one JSON-RPC message on a Streamable HTTP session and return the response message.
pub async fn post_message(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    body: String,
) -> anyhow::Result<Value> {
    let text = client
        .post(url)
        .bearer_auth(TOKEN)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(body)
        .send()
        .await?
        .text()
        .await?;
    rpc_message(&text).context("no JSON-RPC response")
}
