//! Faults on demand, and the test endpoints themselves.

use crate::common;

use common::*;

#[tokio::test]
async fn http_500_on_the_nth_request() {
    let sim = sim_with(
        "carried-over",
        config("[[faults.http_500]]\npath = \"/oqs/menu\"\nnth = 2\n"),
    )
    .await;
    let b = Browser::new(&sim);
    assert_eq!(
        b.login("OnsKANRI", "OnsAdmin@00369").await.status,
        200,
        "first /oqs/menu"
    );
    let page = b.get("/oqs/menu").await;
    assert_eq!(page.status, 500);
    assert!(page.has("システムエラーが発生しました。"));
    assert_eq!(b.get("/oqs/menu").await.status, 200, "third is fine again");
}

#[tokio::test]
async fn maintenance_page_on_both_sites() {
    let sim = sim("carried-over").await;
    patch_config(&sim, serde_json::json!({"faults": {"maintenance": true}})).await;
    let b = Browser::new(&sim);
    for path in ["/cert/", "/oqs/", "/oqs/login"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 503, "{path}");
        assert!(page.has("メンテナンス中"));
    }
    assert_eq!(b.get("/__sim/state").await.status, 200, "test endpoints stay up");
}

#[tokio::test]
async fn a_session_can_expire_mid_flow() {
    let sim = sim_with(
        "carried-over",
        config("[[faults.expire_session]]\npath = \"/oqs/bulk/upload\"\nnth = 1\n"),
    )
    .await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    let page = b.get("/oqs/bulk/upload").await;
    assert!(page.has("セッションがタイムアウトしました。"));
}

#[tokio::test]
async fn reset_restores_the_scenario() {
    let sim = sim("carried-over").await;
    let b = Browser::new(&sim);
    b.login("OnsKANRI", "OnsAdmin@00369").await;
    b.change_password("Changed#Pass2026").await;
    advance(&sim, 86400).await;
    let before = state(&sim).await;
    assert_eq!(
        account(&before, "OnsKANRI").expect("admin")["password"],
        "Changed#Pass2026"
    );
    assert!(!before["events"].as_array().expect("events").is_empty());
    let after: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/__sim/reset", sim.base_url))
        .send()
        .await
        .expect("reset")
        .json()
        .await
        .expect("json");
    assert_eq!(
        account(&after, "OnsKANRI").expect("admin")["password"],
        "OnsAdmin@00369"
    );
    assert!(after["events"].as_array().expect("events").is_empty());
    assert_eq!(after["sessions"], 0);
}

#[tokio::test]
async fn state_lists_what_the_tests_need() {
    let sim = sim("needs-reset").await;
    let s = state(&sim).await;
    let reset = account(&s, "H2713107R").expect("reset account");
    assert_eq!(reset["role"], "マスタアカウントリセット用アカウント");
    assert_eq!(reset["password"], "1357");
    for key in ["locked", "must_change", "failed_logins", "enabled"] {
        assert!(reset.get(key).is_some(), "{key}");
    }
    assert_eq!(s["institution"]["code"], "2713107890");
}

#[tokio::test]
async fn a_bad_config_patch_is_refused() {
    let sim = sim("carried-over").await;
    let resp = reqwest::Client::new()
        .post(format!("{}/__sim/config", sim.base_url))
        .json(&serde_json::json!({"ui": {"buttons": "sparkly"}}))
        .send()
        .await
        .expect("config");
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn latency_is_added_to_both_sites() {
    let sim = sim_with("carried-over", config("[faults]\nlatency_ms = 300\n")).await;
    let b = Browser::new(&sim);
    for path in ["/cert/", "/oqs/"] {
        let started = std::time::Instant::now();
        assert_eq!(b.get(path).await.status, 200);
        // A lower bound only: the page cannot arrive before the added latency.
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(300),
            "{path}"
        );
    }
}
