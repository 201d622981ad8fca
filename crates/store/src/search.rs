//! The terms of ListJobs' DisplayName index (`job_search`, contentless FTS5 over the terms
//! this module writes, split by the `ascii` tokenizer).
//!
//! A job's name is indexed as its trigrams three times, each time under a prefix of its own:
//! once for every caller ([`EVERYONE`]), once under its owner and once under its scope (its
//! workspace, PUBLIC or not). Each prefix but the first is the code of a principal in
//! `search_codes` (`user:<UserId>`, `public:<WorkspaceId>`, `private:<WorkspaceId>`). A
//! caller who may see only some jobs searches under the prefixes of what they may see, and
//! FTS5 reads only the matches among those: a name a fifth of a million jobs share costs a
//! member what their share of it costs, not the whole fifth and then a test of each.
//!
//! A term is `<prefix>x<hex>`: the trigram's UTF-8 bytes in hex (a name may hold any
//! character, a term only what the tokenizer keeps together). The trigrams are of the name's
//! characters with ASCII letters folded, as SQLite's `lower()` folds them, so that a phrase of
//! a needle's trigrams under one prefix is exactly `instr(lower(name), lower(needle)) > 0`
//! for a needle of three characters or more.

use std::fmt::Write;

use rusqlite::functions::FunctionFlags;
use rusqlite::Connection;

/// The prefix of the terms every caller may search (a server administrator, or a caller who
/// may see every job stored). Not a code: codes are written in decimal digits.
const EVERYONE: &str = "a";

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

/// A job's terms: its name's trigrams for everyone, then under its owner's and its scope's
/// codes, each run of them at consecutive positions.
fn terms(name: &str, owner: Option<i64>, scope: Option<i64>) -> String {
    let trigrams = trigrams(name);
    let prefixes = std::iter::once(EVERYONE.to_string())
        .chain(owner.map(|c| c.to_string()))
        .chain(scope.map(|c| c.to_string()));
    let mut terms = String::new();
    for prefix in prefixes {
        for trigram in &trigrams {
            if !terms.is_empty() {
                terms.push(' ');
            }
            let _ = write!(terms, "{prefix}x{trigram}");
        }
    }
    terms
}

/// The FTS5 query for the jobs whose name holds `needle` (three characters or more), among
/// those under any of `codes` (`None`: every job); `None` when `codes` is empty or the needle
/// too short.
pub(crate) fn query(needle: &str, codes: Option<&[i64]>) -> Option<String> {
    let trigrams = trigrams(needle);
    if trigrams.is_empty() {
        return None;
    }
    let phrase = |prefix: &str| {
        let terms: Vec<String> = trigrams.iter().map(|t| format!("{prefix}x{t}")).collect();
        format!("\"{}\"", terms.join(" "))
    };
    let phrases: Vec<String> = match codes {
        None => vec![phrase(EVERYONE)],
        Some(codes) => codes.iter().map(|c| phrase(&c.to_string())).collect(),
    };
    (!phrases.is_empty()).then(|| phrases.join(" OR "))
}

/// The trigrams of `text`'s characters, ASCII letters folded, each as its UTF-8 bytes in hex.
fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
    chars
        .windows(3)
        .map(|w| {
            let mut hex = String::with_capacity(24);
            let mut bytes = [0u8; 4];
            for c in w {
                for b in c.encode_utf8(&mut bytes).bytes() {
                    let _ = write!(hex, "{b:02x}");
                }
            }
            hex
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_trigrams_for_everyone_its_owner_and_its_scope() {
        assert_eq!(
            terms("BeRt", Some(3), Some(12)),
            "ax626572 ax657274 3x626572 3x657274 12x626572 12x657274"
        );
        assert_eq!(terms("ab", Some(3), Some(12)), "");
        assert_eq!(terms("bert", None, None), "ax626572 ax657274");
    }

    #[test]
    fn only_ascii_letters_are_folded_as_sqlite_lower_does() {
        // "É" stays itself (SQLite's lower() folds ASCII only); the Kelvin sign is no "k".
        assert_eq!(trigrams("Éte"), ["c3897465"]);
        assert_eq!(trigrams("\u{212A}ey"), ["e284aa6579"]);
        assert_eq!(trigrams("KEY"), ["6b6579"]);
    }

    #[test]
    fn a_query_is_one_phrase_under_each_prefix_the_caller_may_read() {
        assert_eq!(query("bert", None).unwrap(), "\"ax626572 ax657274\"");
        assert_eq!(
            query("Bert", Some(&[3, 12])).unwrap(),
            "\"3x626572 3x657274\" OR \"12x626572 12x657274\""
        );
        assert_eq!(query("bert", Some(&[])), None);
        assert_eq!(query("be", None), None);
    }
}
