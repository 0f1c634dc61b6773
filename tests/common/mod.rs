//! What the end-to-end tests read back from the simulator.
#![allow(dead_code)]

use oqs_sim::RunningSim;
use serde_json::Value;

/// `GET /__sim/state`.
pub async fn state(sim: &RunningSim) -> Value {
    reqwest::get(format!("{}/__sim/state", sim.base_url))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

pub fn find_account<'a>(s: &'a Value, id: &str) -> Option<&'a Value> {
    s["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|a| a["user_id"] == id)
}

pub fn account<'a>(s: &'a Value, id: &str) -> &'a Value {
    find_account(s, id).unwrap_or_else(|| panic!("no account {id}"))
}

/// How many events of this kind the simulator logged.
pub fn events(s: &Value, kind: &str) -> usize {
    s["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .count()
}
