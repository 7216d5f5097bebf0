//! A strict reader of the Prometheus text format 0.0.4, as far as this service uses it.
//!
//! Every family needs one HELP and one TYPE line before its samples, a family's samples are
//! contiguous, every sample belongs to the family last declared, no series repeats, and each
//! histogram has ascending `le` buckets with cumulative counts ending in `+Inf` equal to its
//! `_count`, plus a `_sum`.

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's metric name (`x_bucket` for a histogram `x`).
    pub name: String,
    /// Label names and values, unescaped, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// A family: its name, type, help and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The name on the TYPE line.
    pub name: String,
    /// `counter`, `gauge`, `histogram`…
    pub kind: String,
    /// The HELP text.
    pub help: String,
    /// Its samples, in order.
    pub samples: Vec<Sample>,
}

/// A parsed exposition.
#[derive(Debug)]
pub struct Exposition {
    /// The families, in order.
    pub families: Vec<Family>,
}

impl Exposition {
    /// The value of the sample `name` whose labels include every one of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<f64> = self
            .families
            .iter()
            .flat_map(|family| &family.samples)
            .filter(|sample| sample.name == name)
            .filter(|sample| {
                labels.iter().all(|(key, value)| {
                    sample
                        .labels
                        .iter()
                        .any(|(have_key, have_value)| have_key == key && have_value == value)
                })
            })
            .map(|sample| sample.value)
            .collect();
        assert!(
            matching.len() <= 1,
            "{name} {labels:?} matches {matching:?}"
        );
        matching.first().copied()
    }

    /// The family named `name`.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|family| family.name == name)
    }
}

/// Parses `text`, or says which rule the first bad line breaks.
pub fn parse(text: &str) -> Result<Exposition, String> {
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".to_owned());
    }
    let mut families: Vec<Family> = Vec::new();
    let mut helps: BTreeMap<String, String> = BTreeMap::new();
    let mut series = BTreeSet::new();
    for (index, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}: {line:?}", index + 1);
        if line.is_empty() {
            return Err(at("empty line".to_owned()));
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .ok_or_else(|| at("HELP without text".to_owned()))?;
            check_metric_name(name).map_err(at)?;
            if helps.insert(name.to_owned(), help.to_owned()).is_some() {
                return Err(at(format!("second HELP for {name}")));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .ok_or_else(|| at("TYPE without a type".to_owned()))?;
            check_metric_name(name).map_err(at)?;
            if !matches!(
                kind,
                "counter" | "gauge" | "histogram" | "summary" | "untyped"
            ) {
                return Err(at(format!("unknown type {kind}")));
            }
            if families.iter().any(|family| family.name == name) {
                return Err(at(format!("second TYPE for {name}")));
            }
            let help = helps
                .get(name)
                .cloned()
                .ok_or_else(|| at(format!("TYPE for {name} without a HELP before it")))?;
            families.push(Family {
                name: name.to_owned(),
                kind: kind.to_owned(),
                help,
                samples: Vec::new(),
            });
            continue;
        }
        if line.starts_with('#') {
            return Err(at("a comment that is neither HELP nor TYPE".to_owned()));
        }
        let sample = parse_sample(line).map_err(at)?;
        let family = families
            .last_mut()
            .ok_or_else(|| at("a sample before any TYPE".to_owned()))?;
        if !belongs_to(&sample.name, family) {
            return Err(at(format!(
                "sample {} is not of the family declared last ({} {})",
                sample.name, family.name, family.kind
            )));
        }
        if family.kind == "counter" && (sample.value.is_nan() || sample.value < 0.0) {
            return Err(at("a counter below zero".to_owned()));
        }
        if !series.insert((sample.name.clone(), sample.labels.clone())) {
            return Err(at("a series repeated".to_owned()));
        }
        family.samples.push(sample);
    }
    if let Some(name) = helps
        .keys()
        .find(|name| !families.iter().any(|family| &family.name == *name))
    {
        return Err(format!("HELP for {name} without a TYPE"));
    }
    for family in families.iter().filter(|family| family.kind == "histogram") {
        check_histogram(family)?;
    }
    Ok(Exposition { families })
}

fn belongs_to(sample: &str, family: &Family) -> bool {
    match family.kind.as_str() {
        "histogram" => ["_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| sample.strip_suffix(suffix) == Some(&family.name)),
        "summary" => {
            sample == family.name
                || ["_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.strip_suffix(suffix) == Some(&family.name))
        }
        _ => sample == family.name,
    }
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|byte| byte.is_ascii_alphabetic() || byte == b'_' || byte == b':');
    if first_ok && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "a sample without a value".to_owned())?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = after_brace;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after_equals) = rest
                .split_once("=\"")
                .ok_or_else(|| "a label without =\"".to_owned())?;
            if label.is_empty()
                || label.starts_with(|c: char| c.is_ascii_digit())
                || !label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
            {
                return Err(format!("bad label name {label:?}"));
            }
            let (value, after_value) = unescape_label_value(after_equals)?;
            if labels
                .iter()
                .any(|(existing, _): &(String, String)| existing == label)
            {
                return Err(format!("label {label} twice"));
            }
            labels.push((label.to_owned(), value));
            rest = match after_value.strip_prefix(',') {
                Some(after_comma) if !after_comma.starts_with('}') => after_comma,
                Some(_) => return Err("a trailing comma in the labels".to_owned()),
                None if after_value.starts_with('}') => after_value,
                None => return Err("labels not separated by a comma".to_owned()),
            };
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| "no single space before the value".to_owned())?;
    if value.contains(' ') {
        return Err("a timestamp or trailing text after the value".to_owned());
    }
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number
            .parse()
            .map_err(|_| format!("value {number:?} is not a number"))?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads an escaped label value up to its closing quote; returns it and the text after the quote.
fn unescape_label_value(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut characters = text.char_indices();
    while let Some((index, character)) = characters.next() {
        match character {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match characters.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                other => return Err(format!("bad escape {other:?} in a label value")),
            },
            '\n' => return Err("a raw newline in a label value".to_owned()),
            c => value.push(c),
        }
    }
    Err("an unterminated label value".to_owned())
}

/// Label names and values of one series.
type Labels = Vec<(String, String)>;

fn check_histogram(family: &Family) -> Result<(), String> {
    let name = &family.name;
    // Series are keyed by their labels other than `le`.
    let mut buckets: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    let mut sums = BTreeSet::new();
    for sample in &family.samples {
        let mut key = sample.labels.clone();
        if sample.name.ends_with("_bucket") {
            let position = key
                .iter()
                .position(|(label, _)| label == "le")
                .ok_or_else(|| format!("{name}: a bucket without le"))?;
            let (_, le) = key.remove(position);
            let bound = match le.as_str() {
                "+Inf" => f64::INFINITY,
                number => number
                    .parse()
                    .map_err(|_| format!("{name}: le {number:?} is not a number"))?,
            };
            buckets.entry(key).or_default().push((bound, sample.value));
        } else if sample.name.ends_with("_count") {
            counts.insert(key, sample.value);
        } else {
            sums.insert(key);
        }
    }
    for (key, series) in &buckets {
        for pair in series.windows(2) {
            if pair[0].0.partial_cmp(&pair[1].0) != Some(std::cmp::Ordering::Less) {
                return Err(format!("{name}{key:?}: le bounds not ascending"));
            }
            if pair[1].1 < pair[0].1 {
                return Err(format!("{name}{key:?}: bucket counts not cumulative"));
            }
        }
        let Some(&(last_bound, last_count)) = series.last() else {
            continue;
        };
        if last_bound != f64::INFINITY {
            return Err(format!(
                "{name}{key:?}: buckets do not end with le=\"+Inf\""
            ));
        }
        if counts.get(key) != Some(&last_count) {
            return Err(format!(
                "{name}{key:?}: +Inf bucket {last_count} is not _count {:?}",
                counts.get(key)
            ));
        }
        if !sums.contains(key) {
            return Err(format!("{name}{key:?}: no _sum"));
        }
    }
    if let Some(key) = counts.keys().find(|key| !buckets.contains_key(*key)) {
        return Err(format!("{name}{key:?}: _count without buckets"));
    }
    Ok(())
}

mod self_check {
    //! The reader must refuse what breaks the rules, or the metrics tests prove nothing.

    use super::parse;

    const VALID: &str = "\
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{path=\"/\",code=\"200\"} 2
# HELP duration_seconds Durations.
# TYPE duration_seconds histogram
duration_seconds_bucket{path=\"/\",le=\"0.1\"} 1
duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 2
duration_seconds_sum{path=\"/\"} 0.3
duration_seconds_count{path=\"/\"} 2
";

    fn refused(text: &str, reason: &str) {
        let error = parse(text).expect_err("should be refused");
        assert!(error.contains(reason), "expected {reason:?} in {error:?}");
    }

    #[test]
    fn a_valid_exposition_is_read() {
        let exposition = parse(VALID).expect("valid");
        assert_eq!(exposition.families.len(), 2);
        assert_eq!(
            exposition.value("requests_total", &[("path", "/")]),
            Some(2.0)
        );
        assert_eq!(
            exposition.value("duration_seconds_bucket", &[("le", "+Inf")]),
            Some(2.0)
        );
    }

    #[test]
    fn a_sample_without_type_is_refused() {
        refused("other_total 1\n", "before any TYPE");
        refused(
            &format!("{VALID}other_total 1\n"),
            "not of the family declared last",
        );
    }

    #[test]
    fn a_type_without_help_is_refused() {
        refused("# TYPE up gauge\nup 1\n", "without a HELP");
    }

    #[test]
    fn non_cumulative_buckets_are_refused() {
        refused(
            &VALID
                .replace("le=\"+Inf\"} 2", "le=\"+Inf\"} 0")
                .replace("_count{path=\"/\"} 2", "_count{path=\"/\"} 0"),
            "not cumulative",
        );
    }

    #[test]
    fn an_inf_bucket_other_than_the_count_is_refused() {
        refused(
            &VALID.replace("_count{path=\"/\"} 2", "_count{path=\"/\"} 3"),
            "is not _count",
        );
    }

    #[test]
    fn buckets_without_inf_are_refused() {
        refused(
            &VALID.replace("duration_seconds_bucket{path=\"/\",le=\"+Inf\"} 2\n", ""),
            "do not end with le=\"+Inf\"",
        );
    }

    #[test]
    fn bad_escapes_and_missing_newline_are_refused() {
        refused(
            &VALID.replace("path=\"/\",code", "path=\"\\x\",code"),
            "bad escape",
        );
        refused(VALID.trim_end(), "newline");
    }
}
