//! Batch review: approve several pending proposals of one capability in one action, recorded
//! as one decision per proposal (never one decision for many), each bound to the content hash
//! and version its inbox row was rendered with.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;
use sluicegate_core::decision::Verdict;
use sluicegate_core::display;
use sluicegate_runtime::{DecisionRequest, shown_for_decision};

use crate::App;
use crate::proposal::refusal_text;

/// One picked row: `<id> <content hash> <version>`.
fn parse_pick(pick: &str) -> Option<(String, String, u32)> {
    let mut parts = pick.split(' ');
    let (id, hash, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || id.is_empty() || hash.is_empty() {
        return None;
    }
    Some((id.to_string(), hash.to_string(), version.parse().ok()?))
}

/// `POST /batch/approve`: the form's `csrf` and every `pick`.
pub(crate) async fn approve(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<Vec<(String, String)>>,
) -> Response {
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if let Err(r) = app.session_for_post(&headers, csrf) {
        return *r;
    }
    let picks: Option<Vec<_>> = fields
        .iter()
        .filter(|(k, _)| k == "pick")
        .map(|(_, v)| parse_pick(v))
        .collect();
    let Some(picks) = picks.filter(|p| !p.is_empty()) else {
        return app.message(
            StatusCode::BAD_REQUEST,
            "Nothing approved",
            "Select one or more pending proposals first.",
        );
    };
    // Every pick as shown, before anything is decided: the same capability, and still
    // hashing to what its row showed.
    let wanted = picks.clone();
    let shown = app
        .read(move |l| {
            wanted
                .iter()
                .map(|(id, hash, _)| shown_for_decision(l, id, Some(hash)).map(|(p, _)| p))
                .collect::<Result<Vec<_>, _>>()
        })
        .await;
    let proposals = match shown {
        Ok(p) => p,
        Err(e) => {
            return app.message(StatusCode::CONFLICT, "Nothing approved", &refusal_text(&e));
        }
    };
    if proposals.iter().any(|p| p.action != proposals[0].action) {
        return app.message(
            StatusCode::CONFLICT,
            "Nothing approved",
            "A batch approves proposals of one capability only; select proposals of the same capability.",
        );
    }
    let mut approved = Vec::new();
    let mut refused = Vec::new();
    for (id, hash, version) in picks {
        let decided = app
            .review
            .decide(DecisionRequest {
                proposal_id: id.clone(),
                shown_hash: hash,
                shown_version: version,
                verdict: Verdict::Approve,
                reviewer: app.reviewer.clone(),
                reason: None,
                key: app.key.clone(),
            })
            .await;
        match decided {
            Ok(p) => approved.push(display::text(&p.proposal_id).into_owned()),
            Err(e) => refused.push(format!("{}: {}", display::text(&id), refusal_text(&e))),
        }
    }
    let status = if refused.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    app.render(
        status,
        "batch.html",
        context! { approved => approved, refused => refused },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_id_hash_version() {
        assert_eq!(
            parse_pick("wrp_1 sha256:ab 2"),
            Some(("wrp_1".into(), "sha256:ab".into(), 2))
        );
        for bad in [
            "",
            "wrp_1",
            "wrp_1 sha256:ab",
            "wrp_1 sha256:ab x",
            "a b 1 extra",
            " sha 1",
        ] {
            assert_eq!(parse_pick(bad), None, "{bad:?}");
        }
    }
}
