//! `benchmark mcp-efficiency` against the conformance fixtures (spec Part B), and the served
//! tools/list section that only appears with `--config`.

use serde_json::Value;
use sluicegate_audit::benchmark::{measure_served, render_json, render_text, report_json};
use sluicegate_test_support::{conformance_dir, read_json};

#[test]
fn text_report_equals_fixture_byte_for_byte() {
    let dir = conformance_dir();
    let fixture =
        std::fs::read_to_string(dir.join("fixtures/benchmark/mcp-efficiency.txt")).unwrap();
    assert_eq!(render_text(None), fixture);
}

#[test]
fn json_report_deep_equals_fixture_with_key_order() {
    let dir = conformance_dir();
    let path = dir.join("fixtures/benchmark/mcp-efficiency.json");
    let fixture = read_json(&path);
    let ours: Value = serde_json::from_str(&render_json(None)).unwrap();
    assert_eq!(ours, fixture);
    // Same key order and 2-space indentation: the pretty texts match too.
    let fixture_text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(render_json(None).trim_end(), fixture_text.trim_end());
    assert!(render_json(None).ends_with("}\n"));
}

fn served() -> sluicegate_audit::benchmark::ServedMeasurement {
    let dir = conformance_dir();
    let config = read_json(&dir.join("examples/mcp-postgres-billing/synapsor.runner.json"));
    measure_served("billing.json", &config).expect("config measures")
}

#[test]
fn served_section_appears_only_with_a_config() {
    let served = served();
    assert_eq!(
        served.tool_names,
        ["billing.inspect_invoice", "billing.propose_late_fee_waiver"]
    );
    let text = render_text(Some(&served));
    let section = format!(
        "\n\nSluicegate served tools/list (billing.json):\n  exposed tools: 2\n  tools/list: {} bytes, {} tokens\n",
        served.tools_list_bytes, served.tools_list_tokens
    );
    assert!(text.contains(&section), "{text}");
    assert!(text.ends_with(
        "\n\nRun with --json to inspect machine-readable measurements and scripted plans.\n"
    ));
    assert!(!render_text(None).contains("Sluicegate served"));

    let json = report_json(Some(&served));
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.last().unwrap(), "sluicegate_served_tools_list");
    assert_eq!(
        json["sluicegate_served_tools_list"]["serialized_tools_list_bytes"],
        served.tools_list_bytes
    );
    assert!(
        report_json(None)
            .get("sluicegate_served_tools_list")
            .is_none()
    );
}

#[test]
fn served_list_is_measured_with_the_fixture_tokenizer() {
    let dir = conformance_dir();
    let config = read_json(&dir.join("examples/mcp-postgres-billing/synapsor.runner.json"));
    let list = sluicegate_audit::served_tools_list(&config).unwrap();
    let text = list.to_string();
    let measured = measure_served("x", &config).unwrap();
    assert_eq!(measured.tools_list_bytes, text.len());
    assert_eq!(
        measured.tools_list_tokens,
        sluicegate_audit::benchmark::count_tokens(&text)
    );
    // No secret or SQL surface leaks into the served list.
    for needle in ["execute_sql", "postgres://", "READ_URL", "password"] {
        assert!(!text.contains(needle), "{needle}");
    }
}
