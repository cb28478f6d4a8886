//! The regular expressions the API description publishes agree with the parsers, string for string, on a corpus
//! of the awkward cases: boundaries, padding, controls, invisible characters and other scripts.

use regex::Regex;
use users_domain::{PersonName, ProfileUrl, Username};

fn corpus() -> Vec<String> {
    let mut strings: Vec<String> = [
        "",
        " ",
        "a",
        "Ada",
        " Ada ",
        "\tAda\n",
        "Ada\n",
        "\nAda",
        "A da",
        "A\tda",
        "A\u{85}da",
        "\u{85}Ada",
        "\u{a0}Ada\u{a0}",
        "A\u{a0}da",
        "\u{200b}",
        "a\u{200b}b",
        "\u{202e}evil",
        "\u{feff}Ada",
        "Zoë",
        "李",
        "🦀",
        "Jean-Luc O'Neil",
        "ada_l.ove-1",
        "ada!",
        "jöhn",
        "\u{3000}Ada\u{3000}",
        "Ada\u{0}",
        "Ada\u{7f}",
        "\u{1c}Ada",
        "http://example.com",
        "https://example.com/a b",
        "HTTPS://9gag.com:8443/x?y#z",
        "https://example.com:65535",
        "https://example.com:65536",
        "https://127.0.0.1/",
        "https://bücher.example/",
        "https://a@b.com/",
        "javascript:alert(1)",
        "ftp://example.com",
        "https://example.com./",
        "https://x.com#top",
        "http://a",
        "https://example.com/\u{a0}",
        "https://example.com/\u{85}",
        "https://example.com\n",
        "https://ex-ample.c0m",
        "https://example.com/%zz[]\\|",
        "https://1example.com",
        "https://example.1com",
        "a\u{2065}b",
        "a\u{2028}b",
        "a\u{34f}b",
        "a\u{fe0f}b",
        "\u{2028}Ada\u{2029}",
        "Ada\u{fe0f}",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for n in [1, 19, 20, 21, 22] {
        strings.push("a".repeat(n));
        strings.push(format!("  {}  ", "a".repeat(n)));
        strings.push("é".repeat(n));
        strings.push(format!("https://example.com/{}", "a".repeat(n + 60)));
    }
    strings
}

fn agrees(pattern: &str, parses: impl Fn(&str) -> bool) {
    let regex = Regex::new(pattern).expect("a valid pattern");
    for string in corpus() {
        assert_eq!(regex.is_match(&string), parses(&string), "{pattern} disagrees with the parser on {string:?}");
    }
}

#[test]
fn the_person_name_pattern_is_the_parser() {
    agrees(PersonName::PATTERN, |s| PersonName::parse(s).is_ok());
}

#[test]
fn the_username_pattern_is_the_parser() {
    agrees(Username::PATTERN, |s| Username::parse(s).is_ok());
}

#[test]
fn the_profile_url_pattern_is_the_parser_within_the_length_limit() {
    agrees(ProfileUrl::PATTERN, |s| ProfileUrl::parse(s).is_ok() || s.chars().count() > ProfileUrl::MAX_CHARS);
}
