//! The terms of ListJobs' DisplayName index (`job_search`, contentless FTS5 over the terms
//! this module writes, split by the `ascii` tokenizer).
//!
//! A job's name is indexed three times, each time under a prefix of its own: once for every
//! caller ([`EVERYONE`]), once under its owner and once under its scope (its workspace, PUBLIC
//! or not). Each prefix but the first is the code of a principal in `search_codes`
//! (`user:<UserId>`, `public:<WorkspaceId>`, `private:<WorkspaceId>`). A caller who may see
//! only some jobs searches under the prefixes of what they may see, and FTS5 reads only the
//! matches among those: a name a fifth of a million jobs share costs a member what their share
//! of it costs, not the whole fifth and then a test of each.
//!
//! Under a principal's prefix the name is its trigrams. For everyone it is also its grams of 4,
//! 5 and 6 characters ([`LONGEST`]), each length a run of its own: a caller who may see every
//! job reads the whole history's matches, and FTS5 reads a phrase in about the time of one of
//! its terms per term (a needle 200,000 jobs share: ~7 ms a term on one core). A needle of up
//! to 6 characters is then one term, a longer one a phrase of its 6-character grams: `resnet`
//! is read once instead of as 4 trigrams.
//!
//! A term is `<prefix>x<hex>` for a trigram and `<prefix><length>x<hex>` for a longer gram:
//! the gram's UTF-8 bytes in hex (a name may hold any character, a term only what the
//! tokenizer keeps together). The grams are of the name's characters with ASCII letters
//! folded, as SQLite's `lower()` folds them, and a run's grams stand at consecutive positions,
//! so that a phrase of a needle's grams of one length under one prefix is exactly
//! `instr(lower(name), lower(needle)) > 0` for a needle of three characters or more.

use std::fmt::Write;

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

/// The prefix of the terms every caller may search (a server administrator, or a caller who
/// may see every job stored). Not a code: codes are written in decimal digits.
const EVERYONE: &str = "a";

/// The longest grams of a name in everyone's terms; under a principal's, trigrams only.
const LONGEST: usize = 6;

/// Registers `search_terms(display_name, owner_code, scope_code)`, which `job_search`'s
/// triggers write (a code may be NULL: its terms are left out).
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "search_terms",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let name: String = ctx.get(0)?;
            let owner: Option<i64> = ctx.get(1)?;
            let scope: Option<i64> = ctx.get(2)?;
            Ok(terms(&name, owner, scope))
        },
    )
}

/// A job's terms: its name's grams for everyone (each length from 3 to [`LONGEST`] a run),
/// then its trigrams under its owner's and its scope's codes, each run at consecutive
/// positions.
fn terms(name: &str, owner: Option<i64>, scope: Option<i64>) -> String {
    let chars = folded(name);
    let everyone = (3..=LONGEST).map(|length| (marker(EVERYONE, length), length));
    let principals = [owner, scope]
        .into_iter()
        .flatten()
        .map(|code| (marker(&code.to_string(), 3), 3));
    let mut terms = String::new();
    for (marker, length) in everyone.chain(principals) {
        for gram in grams(&chars, length) {
            if !terms.is_empty() {
                terms.push(' ');
            }
            let _ = write!(terms, "{marker}{gram}");
        }
    }
    terms
}

/// The FTS5 query for the jobs whose name holds `needle` (three characters or more), among
/// those under any of `codes` (`None`: every job, whose terms hold the longer grams); `None`
/// when `codes` is empty or the needle too short.
pub(crate) fn query(needle: &str, codes: Option<&[i64]>) -> Option<String> {
    let chars = folded(needle);
    if chars.len() < 3 {
        return None;
    }
    let phrase = |prefix: &str, length: usize| {
        let marker = marker(prefix, length);
        let terms: Vec<String> = grams(&chars, length)
            .map(|gram| format!("{marker}{gram}"))
            .collect();
        format!("\"{}\"", terms.join(" "))
    };
    let phrases: Vec<String> = match codes {
        None => vec![phrase(EVERYONE, chars.len().min(LONGEST))],
        Some(codes) => codes.iter().map(|c| phrase(&c.to_string(), 3)).collect(),
    };
    (!phrases.is_empty()).then(|| phrases.join(" OR "))
}

/// What a term of grams of `length` characters under `prefix` starts with.
fn marker(prefix: &str, length: usize) -> String {
    if length == 3 {
        format!("{prefix}x")
    } else {
        format!("{prefix}{length}x")
    }
}

/// `text`'s characters, ASCII letters folded as SQLite's `lower()` folds them.
fn folded(text: &str) -> Vec<char> {
    text.chars().map(|c| c.to_ascii_lowercase()).collect()
}

/// The grams of `length` characters of `chars`, in order, each as its UTF-8 bytes in hex.
fn grams(chars: &[char], length: usize) -> impl Iterator<Item = String> + '_ {
    chars.windows(length).map(move |window| {
        let mut hex = String::with_capacity(8 * length);
        let mut bytes = [0u8; 4];
        for c in window {
            for b in c.encode_utf8(&mut bytes).bytes() {
                let _ = write!(hex, "{b:02x}");
            }
        }
        hex
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_grams_for_everyone_and_its_trigrams_under_its_owner_and_scope() {
        assert_eq!(
            terms("BeRt", Some(3), Some(12)),
            "ax626572 ax657274 a4x62657274 3x626572 3x657274 12x626572 12x657274"
        );
        assert_eq!(terms("ab", Some(3), Some(12)), "");
        assert_eq!(
            terms("resnet", None, None),
            "ax726573 ax65736e ax736e65 ax6e6574 a4x7265736e a4x65736e65 a4x736e6574 \
             a5x7265736e65 a5x65736e6574 a6x7265736e6574"
        );
    }

    #[test]
    fn only_ascii_letters_are_folded_as_sqlite_lower_does() {
        let grams = |text: &str| grams(&folded(text), 3).collect::<Vec<_>>();
        // "É" stays itself (SQLite's lower() folds ASCII only); the Kelvin sign is no "k".
        assert_eq!(grams("Éte"), ["c3897465"]);
        assert_eq!(grams("\u{212A}ey"), ["e284aa6579"]);
        assert_eq!(grams("KEY"), ["6b6579"]);
    }

    #[test]
    fn a_query_is_one_phrase_under_each_prefix_the_caller_may_read() {
        assert_eq!(
            query("Bert", Some(&[3, 12])).unwrap(),
            "\"3x626572 3x657274\" OR \"12x626572 12x657274\""
        );
        assert_eq!(query("bert", Some(&[])), None);
        assert_eq!(query("be", None), None);
    }

    /// For everyone, a needle of up to 6 characters is one term, a longer one a phrase of its
    /// 6-character grams.
    #[test]
    fn everyone_searches_the_longest_grams_the_needle_has() {
        assert_eq!(query("gpt", None).unwrap(), "\"ax677074\"");
        assert_eq!(query("bert", None).unwrap(), "\"a4x62657274\"");
        assert_eq!(query("ReSnEt", None).unwrap(), "\"a6x7265736e6574\"");
        assert_eq!(
            query("resnet-7", None).unwrap(),
            "\"a6x7265736e6574 a6x65736e65742d a6x736e65742d37\""
        );
    }
}
