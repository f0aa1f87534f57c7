//! The case generator of the differential test: policies with several
//! statements, wildcards in actions and resources, conditions of every
//! operator (values valid for the operator, request values sometimes not),
//! allow/deny mixes, and request contexts with keys present or missing.

/// SplitMix64: small, fast, and the same stream on every platform and version.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[derive(Debug)]
pub(crate) struct Cond {
    pub(crate) op: String,
    pub(crate) key: String,
    pub(crate) values: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Stmt {
    pub(crate) deny: bool,
    pub(crate) not_action: bool,
    pub(crate) actions: Vec<String>,
    pub(crate) not_resource: bool,
    pub(crate) resources: Vec<String>,
    pub(crate) conditions: Vec<Cond>,
    /// Write single-entry lists as plain strings.
    pub(crate) as_strings: bool,
}

#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) statements: Vec<Stmt>,
}

#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) policies: Vec<Policy>,
    pub(crate) action: String,
    pub(crate) resource: String,
    pub(crate) context: Vec<(String, String)>,
}

const ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
    "ram:PassRole",
    "sts:AssumeRole",
];

const RESOURCES: &[&str] = &[
    "acs:kms:cn-beijing:1892732288741234:key/key-1",
    "acs:kms:cn-beijing:1892732288741234:key/Key-2",
    "acs:kms:cn-hangzhou:1885386054511234:key/key-1",
    "acs:ram::1892732288741234:role/mf-secr",
    "acs:ram::1892732288741234:role/mf-secr2b",
    "acs:ram::1885386054511234:role/b-secr",
];

/// Condition key families: (key, request values, operators, policy values).
struct Family {
    key: &'static str,
    request_values: &'static [&'static str],
    operators: &'static [&'static str],
    policy_values: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        key: "acs:SourceIp",
        request_values: &[
            "10.1.2.3",
            "10.1.2.2",
            "10.1.3.1",
            "192.168.0.9",
            "192.168.0.8",
            "2001:db8::5",
            "2001:db9::1",
            "::ffff:10.1.2.3",
            "fe80::1",
            "not-an-ip",
            "10.1.2",
        ],
        operators: &["IpAddress", "NotIpAddress"],
        policy_values: &[
            "10.0.0.0/8",
            "10.1.2.3",
            "192.168.0.0/16",
            "0.0.0.0/0",
            "2001:db8::/32",
            "::/0",
            "10.1.2.0/24",
            "192.168.0.9/32",
            "10.1.2.3/31",
            "fe80::/10",
        ],
    },
    Family {
        key: "k:n",
        request_values: &[
            "10", "-3.5", "1e2", "abc", "", "+7", "inf", "0.5", "100", "NaN",
        ],
        operators: &[
            "NumericEquals",
            "NumericNotEquals",
            "NumericLessThan",
            "NumericLessThanEquals",
            "NumericGreaterThan",
            "NumericGreaterThanEquals",
        ],
        policy_values: &["10", "0", "-3.5", "100", "7", "1e2", "0.5"],
    },
    Family {
        key: "k:d",
        request_values: &[
            "2026-03-01T00:00:00Z",
            "2026-03-01T08:00:00+08:00",
            "2025-12-31T23:59:59Z",
            "2027-01-01T00:00:00.5Z",
            "yesterday",
        ],
        operators: &[
            "DateEquals",
            "DateNotEquals",
            "DateLessThan",
            "DateLessThanEquals",
            "DateGreaterThan",
            "DateGreaterThanEquals",
        ],
        policy_values: &[
            "2026-03-01T00:00:00Z",
            "2026-01-01T00:00:00+01:00",
            "2026-06-30T12:00:00Z",
        ],
    },
    Family {
        key: "k:b",
        request_values: &["true", "false", "TRUE", "yes"],
        operators: &["Bool"],
        policy_values: &["true", "false"],
    },
    Family {
        key: "k:s",
        request_values: &["prod", "Prod", "dev", "prod-eu", "", "ü"],
        operators: &[
            "StringEquals",
            "StringNotEquals",
            "StringEqualsIgnoreCase",
            "StringNotEqualsIgnoreCase",
            "StringLike",
            "StringNotLike",
        ],
        policy_values: &[
            "prod", "PROD", "dev", "prod-*", "p?od", "*", "d*v", "ü", "Ü",
        ],
    },
];

fn flip_case(rng: &mut Rng, s: &str) -> String {
    s.chars()
        .map(|c| {
            if rng.chance(30) {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

/// A pattern derived from `base` that may or may not still match it.
fn mutate(rng: &mut Rng, base: &str) -> String {
    let chars: Vec<char> = base.chars().collect();
    match rng.below(10) {
        0 => "*".into(),
        1 | 2 => {
            let cut = rng.below(chars.len() + 1);
            format!("{}*", chars[..cut].iter().collect::<String>())
        }
        3 => {
            let at = rng.below(chars.len());
            let mut c = chars.clone();
            c[at] = '?';
            c.into_iter().collect()
        }
        4 => {
            let (a, b) = (rng.below(chars.len()), rng.below(chars.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            format!(
                "{}*{}",
                chars[..lo].iter().collect::<String>(),
                chars[hi..].iter().collect::<String>()
            )
        }
        5 => flip_case(rng, base),
        _ => base.to_owned(),
    }
}

fn list(rng: &mut Rng, pool: &[&str], actions: bool) -> Vec<String> {
    (0..1 + rng.below(3))
        .map(|_| {
            let base = rng.pick(pool);
            let pattern = mutate(rng, base);
            // An action pattern is `*` or `<service>:<action>`: a wildcard
            // may not swallow the colon.
            let valid_action = pattern == "*"
                || pattern
                    .split_once(':')
                    .is_some_and(|(s, a)| !s.is_empty() && !a.is_empty());
            match base.split_once(':') {
                Some((service, name)) if actions && !valid_action => {
                    format!("{service}:{}", mutate(rng, name))
                }
                _ => pattern,
            }
        })
        .collect()
}

fn condition(rng: &mut Rng) -> Cond {
    let key_family = &FAMILIES[rng.below(FAMILIES.len())];
    // Mostly the key's own operators; sometimes another family's, whose
    // request values then often do not parse.
    let op_family = if rng.chance(15) {
        &FAMILIES[rng.below(FAMILIES.len())]
    } else {
        key_family
    };
    let mut op = rng.pick(op_family.operators).to_owned();
    if rng.chance(15) {
        op.push_str("IfExists");
    }
    let key = if rng.chance(20) {
        flip_case(rng, key_family.key)
    } else {
        key_family.key.to_owned()
    };
    let values = (0..1 + rng.below(3))
        .map(|_| rng.pick(op_family.policy_values).to_owned())
        .collect();
    Cond { op, key, values }
}

fn statement(rng: &mut Rng) -> Stmt {
    let mut conditions: Vec<Cond> = Vec::new();
    if rng.chance(60) {
        for _ in 0..1 + rng.below(3) {
            let c = condition(rng);
            // One JSON object cannot hold the same operator and key twice.
            if !conditions.iter().any(|d| d.op == c.op && d.key == c.key) {
                conditions.push(c);
            }
        }
    }
    Stmt {
        deny: rng.chance(25),
        not_action: rng.chance(12),
        actions: list(rng, ACTIONS, true),
        not_resource: rng.chance(12),
        resources: list(rng, RESOURCES, false),
        conditions,
        as_strings: rng.chance(50),
    }
}

pub(crate) fn case(rng: &mut Rng) -> Case {
    let policies = (0..1 + rng.below(3))
        .map(|_| Policy {
            statements: (0..1 + rng.below(4)).map(|_| statement(rng)).collect(),
        })
        .collect();
    let action = rng.pick(ACTIONS);
    let action = if rng.chance(20) {
        flip_case(rng, action)
    } else {
        action.to_owned()
    };
    let resource = rng.pick(RESOURCES).to_owned();
    let mut context = Vec::new();
    for f in FAMILIES {
        if rng.chance(65) {
            let key = if rng.chance(20) {
                flip_case(rng, f.key)
            } else {
                f.key.to_owned()
            };
            context.push((key, rng.pick(f.request_values).to_owned()));
        }
    }
    Case {
        policies,
        action,
        resource,
        context,
    }
}
