//! The PostgreSQL session parameters a connection keeps (SET / SHOW /
//! RESET): the ones clients and postgres_fdw set when they connect. Values
//! that would change how results are encoded are checked, so a client never
//! believes a setting took effect when it did not.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::ClientError;

/// A known parameter: its name as SHOW prints it, its default, and which
/// values it accepts.
struct Parameter {
    name: &'static str,
    default: &'static str,
    /// Whether a change is reported to the client (ParameterStatus).
    reported: bool,
    accepts: fn(&str) -> Result<String, String>,
}

fn any(v: &str) -> Result<String, String> {
    Ok(v.to_owned())
}

fn only(allowed: &'static [&'static str]) -> impl Fn(&str) -> Result<String, String> {
    move |v| {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v))
            .map(|a| (*a).to_owned())
            .ok_or_else(|| format!("only {} is supported", allowed.join(" or ")))
    }
}

fn encoding(v: &str) -> Result<String, String> {
    only(&["UTF8"])(&v.replace('-', "").to_ascii_uppercase())
}

fn date_style(v: &str) -> Result<String, String> {
    // ISO output is what the server writes; the order part only matters for
    // input, which Sealhouse reads as ISO in any case.
    if v.to_ascii_uppercase().contains("ISO") {
        Ok("ISO, MDY".to_owned())
    } else {
        Err("only ISO output is supported (DateStyle ISO)".to_owned())
    }
}

fn time_zone(v: &str) -> Result<String, String> {
    let utc = ["UTC", "GMT", "Etc/UTC", "Z", "+00", "+00:00", "0"];
    if utc.iter().any(|u| u.eq_ignore_ascii_case(v)) {
        Ok("UTC".to_owned())
    } else {
        Err("timestamps are kept and shown in UTC; only TimeZone UTC is supported".to_owned())
    }
}

fn interval_style(v: &str) -> Result<String, String> {
    only(&["postgres"])(v)
}

fn digits(v: &str) -> Result<String, String> {
    match v.parse::<i32>() {
        Ok(n) if (-15..=3).contains(&n) => Ok(n.to_string()),
        _ => Err("a whole number from -15 to 3".to_owned()),
    }
}

fn milliseconds(v: &str) -> Result<String, String> {
    parse_duration(v).map(|d| format!("{}ms", d.as_millis()))
}

fn on_off(v: &str) -> Result<String, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok("on".to_owned()),
        "off" | "false" | "0" | "no" => Ok("off".to_owned()),
        _ => Err("on or off".to_owned()),
    }
}

fn isolation(v: &str) -> Result<String, String> {
    only(&[
        "read committed",
        "repeatable read",
        "serializable",
        "read uncommitted",
    ])(v)
}

const PARAMETERS: &[Parameter] = &[
    Parameter {
        name: "application_name",
        default: "",
        reported: true,
        accepts: any,
    },
    Parameter {
        name: "client_encoding",
        default: "UTF8",
        reported: true,
        accepts: encoding,
    },
    Parameter {
        name: "client_min_messages",
        default: "notice",
        reported: false,
        accepts: any,
    },
    Parameter {
        name: "DateStyle",
        default: "ISO, MDY",
        reported: true,
        accepts: date_style,
    },
    Parameter {
        name: "default_transaction_isolation",
        default: "read committed",
        reported: false,
        accepts: isolation,
    },
    Parameter {
        name: "extra_float_digits",
        default: "1",
        reported: false,
        accepts: digits,
    },
    Parameter {
        name: "idle_in_transaction_session_timeout",
        default: "0",
        reported: false,
        accepts: milliseconds,
    },
    Parameter {
        name: "IntervalStyle",
        default: "postgres",
        reported: true,
        accepts: interval_style,
    },
    Parameter {
        name: "lock_timeout",
        default: "0",
        reported: false,
        accepts: milliseconds,
    },
    // PostgreSQL's: `force_custom_plan` plans every execution with its
    // values; `auto` (and `force_generic_plan`, which can do no more) runs
    // a prepared statement's kept plan when it is safe to (see
    // `sealhouse_sql`'s `kept_plans`).
    Parameter {
        name: "plan_cache_mode",
        default: "auto",
        reported: false,
        accepts: |v| only(&["auto", "force_generic_plan", "force_custom_plan"])(v),
    },
    Parameter {
        name: "search_path",
        default: "\"$user\", public",
        reported: false,
        accepts: any,
    },
    Parameter {
        name: "standard_conforming_strings",
        default: "on",
        reported: true,
        accepts: |v| match on_off(v)?.as_str() {
            "on" => Ok("on".to_owned()),
            _ => Err("only on is supported".to_owned()),
        },
    },
    Parameter {
        name: "statement_timeout",
        default: "0",
        reported: false,
        accepts: milliseconds,
    },
    Parameter {
        name: "TimeZone",
        default: "UTC",
        reported: true,
        accepts: time_zone,
    },
    Parameter {
        name: "transaction_isolation",
        default: "read committed",
        reported: false,
        accepts: isolation,
    },
    Parameter {
        name: "bytea_output",
        default: "hex",
        reported: false,
        accepts: |v| only(&["hex"])(v),
    },
];

fn lookup(name: &str) -> Option<&'static Parameter> {
    PARAMETERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// One connection's parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Settings {
    values: BTreeMap<&'static str, String>,
}

/// What a SET changed, for the client's ParameterStatus.
pub(crate) type Reported = Option<(String, String)>;

impl Settings {
    /// Sets `name` (`None`: back to its default).
    pub(crate) fn set(&mut self, name: &str, value: Option<&str>) -> Result<Reported, ClientError> {
        let name = if name.eq_ignore_ascii_case("time zone") {
            "timezone"
        } else {
            name
        };
        if let Ok(setting) = sealhouse_storage::DatabaseSetting::named(name) {
            return Err(ClientError::new(
                "55P02",
                format!(
                    "{} is a database setting, not a session one: ALTER DATABASE <database> SET \
                     {} = <value>; (the project's Super_Administrator) sets it for the database",
                    setting.name(),
                    setting.name()
                ),
            ));
        }
        let parameter = lookup(name).ok_or_else(|| {
            ClientError::new(
                "42704",
                format!(
                    "unrecognized configuration parameter \"{name}\"; the server keeps: {}",
                    PARAMETERS
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        match value {
            None => {
                self.values.remove(parameter.name);
            }
            Some(v) => {
                let v = (parameter.accepts)(v).map_err(|why| {
                    ClientError::new(
                        "22023",
                        format!(
                            "invalid value for parameter \"{}\": \"{v}\": {why}",
                            parameter.name
                        ),
                    )
                })?;
                self.values.insert(parameter.name, v);
            }
        }
        Ok(parameter
            .reported
            .then(|| (parameter.name.to_owned(), self.get(parameter.name))))
    }

    /// The value of `name` ("time zone" and "transaction isolation level"
    /// as SHOW spells them too).
    pub(crate) fn show(&self, name: &str) -> Result<(String, String), ClientError> {
        let name = match name {
            "time zone" => "timezone",
            "transaction isolation level" => "transaction_isolation",
            other => other,
        };
        if name == "server_version" {
            return Ok((
                "server_version".to_owned(),
                crate::SERVER_VERSION.to_owned(),
            ));
        }
        let parameter = lookup(name).ok_or_else(|| {
            ClientError::new(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })?;
        Ok((parameter.name.to_owned(), self.get(parameter.name)))
    }

    /// Every parameter and its value (SHOW ALL).
    pub(crate) fn all(&self) -> Vec<(String, String)> {
        PARAMETERS
            .iter()
            .map(|p| (p.name.to_owned(), self.get(p.name)))
            .collect()
    }

    fn get(&self, name: &'static str) -> String {
        self.values.get(name).cloned().unwrap_or_else(|| {
            lookup(name)
                .map(|p| p.default.to_owned())
                .unwrap_or_default()
        })
    }

    /// `statement_timeout`, if set.
    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        parse_duration(&self.get("statement_timeout"))
            .ok()
            .filter(|d| !d.is_zero())
    }

    /// Whether prepared statements may run kept plans (`plan_cache_mode`).
    pub(crate) fn keeps_plans(&self) -> bool {
        self.get("plan_cache_mode") != "force_custom_plan"
    }
}

/// A PostgreSQL duration setting: a number of milliseconds, or a number
/// with a unit (`ms`, `s`, `min`, `h`).
fn parse_duration(v: &str) -> Result<Duration, String> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| "a duration such as 5000, 5000ms, 5s or 1min".to_owned())?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.saturating_mul(1000),
        "min" => n.saturating_mul(60_000),
        "h" => n.saturating_mul(3_600_000),
        _ => return Err("a duration such as 5000, 5000ms, 5s or 1min".to_owned()),
    };
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_fdw_settings_are_accepted_and_shown() {
        let mut s = Settings::default();
        s.set("search_path", Some("pg_catalog"))
            .expect("search_path");
        assert_eq!(
            s.set("timezone", Some("UTC")).expect("tz"),
            Some(("TimeZone".to_owned(), "UTC".to_owned()))
        );
        s.set("datestyle", Some("ISO")).expect("datestyle");
        s.set("intervalstyle", Some("postgres"))
            .expect("intervalstyle");
        s.set("extra_float_digits", Some("3")).expect("digits");
        assert_eq!(s.show("search_path").expect("show").1, "pg_catalog");
        assert_eq!(s.show("time zone").expect("show").1, "UTC");
        s.set("search_path", None).expect("reset");
        assert_eq!(s.show("search_path").expect("show").1, "\"$user\", public");
    }

    #[test]
    fn a_database_setting_is_not_set_per_session() {
        let mut s = Settings::default();
        let e = s
            .set(
                "HG_EXPERIMENTAL_ENABLE_ACCESS_ODPS_ORC_VIA_HOLO",
                Some("false"),
            )
            .expect_err("database setting");
        assert_eq!(e.code, "55P02");
        assert!(e.message.contains("ALTER DATABASE"), "{}", e.message);
    }

    #[test]
    fn settings_that_would_not_take_effect_are_refused() {
        let mut s = Settings::default();
        let e = s.set("timezone", Some("Europe/Paris")).expect_err("tz");
        assert_eq!(e.code, "22023");
        assert!(e.message.contains("UTC"), "{}", e.message);
        assert!(s.set("client_encoding", Some("LATIN1")).is_err());
        assert!(s.set("client_encoding", Some("utf-8")).is_ok());
        let e = s.set("no_such_thing", Some("1")).expect_err("unknown");
        assert_eq!(e.code, "42704");
    }

    #[test]
    fn statement_timeout_parses_units() {
        let mut s = Settings::default();
        assert_eq!(s.statement_timeout(), None);
        s.set("statement_timeout", Some("2s")).expect("set");
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(2)));
        s.set("statement_timeout", Some("150")).expect("set");
        assert_eq!(s.statement_timeout(), Some(Duration::from_millis(150)));
        assert!(s.set("statement_timeout", Some("soon")).is_err());
    }

    #[test]
    fn force_custom_plan_turns_kept_plans_off() {
        let mut s = Settings::default();
        assert!(s.keeps_plans());
        s.set("plan_cache_mode", Some("FORCE_CUSTOM_PLAN"))
            .expect("accepted");
        assert!(!s.keeps_plans());
        s.set("plan_cache_mode", Some("force_generic_plan"))
            .expect("accepted");
        assert!(s.keeps_plans());
        assert!(s.set("plan_cache_mode", Some("never")).is_err());
        s.set("plan_cache_mode", None).expect("reset");
        assert!(s.keeps_plans());
    }
}
