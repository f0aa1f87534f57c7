//! Differential test of policy evaluation: the crate's parser and evaluator
//! against a small reference evaluator written here, straight from the rules
//! in `docs/iam.md`, over generated policies, requests and contexts.
//!
//! The reference shares no code with the crate: wildcards by recursive
//! backtracking, CIDR by masks, and the decision by two plain passes (any
//! deny? any allow?). The generator is a SplitMix64 stream from a fixed seed,
//! so every run checks the same cases; set `IAM_DIFF_CASES` / `IAM_DIFF_SEED`
//! to run more or others.

// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use sealhouse_iam::PolicyRef;
use sealhouse_iam::policy::context::RequestContext;
use sealhouse_iam::policy::document::PolicyDocument;
use sealhouse_iam::policy::evaluate::{Decision, Request, evaluate};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod generator;
use generator::{Case, Cond, Policy, Rng, Stmt};

/// The reference's verdict: which (policy, statement) decided, and how.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow(usize, usize),
    Deny(usize, usize),
    Implicit,
}

fn wildcard(p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => wildcard(rest, t) || (!t.is_empty() && wildcard(p, &t[1..])),
        Some(('?', rest)) => !t.is_empty() && wildcard(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && wildcard(rest, &t[1..]),
    }
}

fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    wildcard(&p, &t)
}

fn number(s: &str) -> Option<f64> {
    let only_number_chars = s.chars().all(|c| "0123456789+-.eE".contains(c));
    let v: f64 = s.parse().ok()?;
    (only_number_chars && v.is_finite()).then_some(v)
}

fn date(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn in_block(block: &str, addr: &str) -> bool {
    let Ok(addr) = addr.parse::<IpAddr>() else {
        return false;
    };
    let addr = addr.to_canonical();
    let (net, len) = match block.split_once('/') {
        Some((n, l)) => (n.parse::<IpAddr>().unwrap(), l.parse::<u32>().unwrap()),
        None => {
            let n: IpAddr = block.parse().unwrap();
            (n, if n.is_ipv4() { 32 } else { 128 })
        }
    };
    let (a, n, bits) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    // Compare the top `len` of `bits` bits, one bit at a time.
    (0..len).all(|i| {
        let bit = bits - 1 - i;
        (a >> bit) & 1 == (n >> bit) & 1
    })
}

/// The positive form's test of one request value against one policy value.
fn positive(op: &str, value: &str, x: &str) -> bool {
    match op {
        "StringEquals" => value == x,
        "StringEqualsIgnoreCase" => value.to_lowercase() == x.to_lowercase(),
        "StringLike" => like(x, value),
        "Bool" => value.to_lowercase() == x.to_lowercase() && (x == "true" || x == "false"),
        "IpAddress" => in_block(x, value),
        _ if op.starts_with("Numeric") => match (number(value), number(x)) {
            (Some(v), Some(x)) => match &op["Numeric".len()..] {
                "Equals" => v == x,
                "LessThan" => v < x,
                "LessThanEquals" => v <= x,
                "GreaterThan" => v > x,
                "GreaterThanEquals" => v >= x,
                other => panic!("generator made {other}"),
            },
            _ => false,
        },
        _ if op.starts_with("Date") => match (date(value), date(x)) {
            (Some(v), Some(x)) => match &op["Date".len()..] {
                "Equals" => v == x,
                "LessThan" => v < x,
                "LessThanEquals" => v <= x,
                "GreaterThan" => v > x,
                "GreaterThanEquals" => v >= x,
                other => panic!("generator made {other}"),
            },
            _ => false,
        },
        other => panic!("generator made {other}"),
    }
}

/// The negated operators and their positive partners.
fn negation(op: &str) -> Option<&'static str> {
    Some(match op {
        "StringNotEquals" => "StringEquals",
        "StringNotEqualsIgnoreCase" => "StringEqualsIgnoreCase",
        "StringNotLike" => "StringLike",
        "NumericNotEquals" => "NumericEquals",
        "DateNotEquals" => "DateEquals",
        "NotIpAddress" => "IpAddress",
        _ => return None,
    })
}

fn condition_holds(c: &Cond, ctx: &[(String, String)]) -> bool {
    let (op, if_exists) = match c.op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (c.op.as_str(), false),
    };
    let value = ctx
        .iter()
        .find(|(k, _)| k.to_lowercase() == c.key.to_lowercase())
        .map(|(_, v)| v);
    let Some(value) = value else {
        return if_exists || negation(op).is_some();
    };
    match negation(op) {
        Some(pos) => !c.values.iter().any(|x| positive(pos, value, x)),
        None => c.values.iter().any(|x| positive(op, value, x)),
    }
}

fn covers(patterns: &[String], negated: bool, value: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| {
        if ignore_case {
            s.to_ascii_lowercase()
        } else {
            s.to_owned()
        }
    };
    let any = patterns.iter().any(|p| like(&fold(p), &fold(value)));
    any != negated
}

fn statement_applies(s: &Stmt, case: &Case) -> bool {
    covers(&s.actions, s.not_action, &case.action, true)
        && covers(&s.resources, s.not_resource, &case.resource, false)
        && s.conditions
            .iter()
            .all(|c| condition_holds(c, &case.context))
}

fn reference(case: &Case) -> Verdict {
    let applying = |deny: bool| {
        case.policies.iter().enumerate().find_map(|(pi, p)| {
            p.statements
                .iter()
                .position(|s| s.deny == deny && statement_applies(s, case))
                .map(|si| (pi, si))
        })
    };
    if let Some((p, s)) = applying(true) {
        Verdict::Deny(p, s)
    } else if let Some((p, s)) = applying(false) {
        Verdict::Allow(p, s)
    } else {
        Verdict::Implicit
    }
}

fn one_or_list(items: &[String], rng_says_string: bool) -> Value {
    if items.len() == 1 && rng_says_string {
        json!(items[0])
    } else {
        json!(items)
    }
}

fn to_json(p: &Policy) -> String {
    let statements: Vec<Value> = p
        .statements
        .iter()
        .map(|s| {
            let mut m = serde_json::Map::new();
            m.insert(
                "Effect".into(),
                json!(if s.deny { "Deny" } else { "Allow" }),
            );
            let a = if s.not_action { "NotAction" } else { "Action" };
            m.insert(a.into(), one_or_list(&s.actions, s.as_strings));
            let r = if s.not_resource {
                "NotResource"
            } else {
                "Resource"
            };
            m.insert(r.into(), one_or_list(&s.resources, s.as_strings));
            if !s.conditions.is_empty() {
                let mut block = serde_json::Map::new();
                for c in &s.conditions {
                    let keys = block.entry(c.op.clone()).or_insert_with(|| json!({}));
                    keys[c.key.as_str()] = one_or_list(&c.values, s.as_strings);
                }
                m.insert("Condition".into(), Value::Object(block));
            }
            Value::Object(m)
        })
        .collect();
    json!({"Version": "1", "Statement": statements}).to_string()
}

fn crate_verdict(case: &Case) -> Verdict {
    let docs: Vec<(PolicyRef, PolicyDocument)> = case
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let text = to_json(p);
            let doc = PolicyDocument::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            (PolicyRef::System(i.to_string()), doc)
        })
        .collect();
    let mut ctx = RequestContext::new();
    for (k, v) in &case.context {
        ctx.insert(k, v.clone());
    }
    let request = Request {
        action: &case.action,
        resource: &case.resource,
        context: &ctx,
    };
    let index = |r: &PolicyRef| match r {
        PolicyRef::System(i) => i.parse::<usize>().unwrap(),
        PolicyRef::Custom { .. } => unreachable!(),
    };
    match evaluate(docs.iter().map(|(r, d)| (r, d)), &request) {
        Decision::Allowed(at) => Verdict::Allow(index(&at.policy), at.index),
        Decision::ExplicitDeny(at) => Verdict::Deny(index(&at.policy), at.index),
        Decision::NoAllow => Verdict::Implicit,
    }
}

#[test]
fn crate_and_reference_agree_on_generated_cases() {
    let cases: usize = std::env::var("IAM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("IAM_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EA1_4005E);
    let mut rng = Rng(seed);
    let (mut allow, mut deny, mut implicit, mut disagreements) = (0usize, 0usize, 0usize, 0usize);
    for n in 0..cases {
        let case = generator::case(&mut rng);
        let expected = reference(&case);
        let got = crate_verdict(&case);
        match expected {
            Verdict::Allow(..) => allow += 1,
            Verdict::Deny(..) => deny += 1,
            Verdict::Implicit => implicit += 1,
        }
        if expected != got {
            disagreements += 1;
            if disagreements <= 5 {
                eprintln!("case {n}: reference {expected:?}, crate {got:?}\n{case:#?}");
                for p in &case.policies {
                    eprintln!("{}", to_json(p));
                }
            }
        }
    }
    println!(
        "policy differential: {cases} cases (seed {seed:#x}), {disagreements} disagreements; \
         reference verdicts: {allow} allow, {deny} explicit deny, {implicit} implicit deny"
    );
    assert_eq!(disagreements, 0);
    // The generator must exercise every outcome, not only the easy one.
    for (name, count) in [("allow", allow), ("deny", deny), ("implicit", implicit)] {
        assert!(
            count * 10 >= cases,
            "only {count} {name} verdicts in {cases} cases"
        );
    }
}
