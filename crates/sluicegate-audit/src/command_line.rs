//! Splitting a `--stdio "<command line>"` into program and arguments, the way a POSIX shell
//! splits words (the `shell-words` crate, which the handler's command lines use too). No shell
//! runs and nothing is expanded.

/// Splits `line` into words: single quotes keep everything literally; double quotes group and
/// honour `\"`, `\\`, `\$` and `` \` ``; outside quotes a backslash escapes the next character and
/// whitespace separates words; `#` at the start of a word begins a comment. An unterminated
/// quote is an error.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    shell_words::split(line).map_err(|_| "unterminated quote".to_owned())
}

#[cfg(test)]
mod tests {
    use super::split_command_line;

    #[test]
    fn splits_like_a_shell_without_expansion() {
        assert_eq!(
            split_command_line(r#"python3 -c 'print("a b")' "x \"y\"" z\ w $HOME"#).unwrap(),
            vec![
                "python3",
                "-c",
                r#"print("a b")"#,
                r#"x "y""#,
                "z w",
                "$HOME"
            ]
        );
    }

    /// The same input the handler's splitter is tested with: both give the same words.
    #[test]
    fn escaped_double_quotes_inside_double_quotes() {
        assert_eq!(split_command_line(r#"x "y""#).unwrap(), vec!["x", "y"]);
        assert_eq!(
            split_command_line(r#""x \"y\"""#).unwrap(),
            vec![r#"x "y""#]
        );
        assert_eq!(
            split_command_line(r#"say "a\b" 'c\"d'"#).unwrap(),
            vec!["say", r"a\b", r#"c\"d"#]
        );
    }

    #[test]
    fn empty_quotes_are_an_argument() {
        assert_eq!(split_command_line(r#"a "" b"#).unwrap(), vec!["a", "", "b"]);
        assert!(split_command_line("   ").unwrap().is_empty());
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert_eq!(
            split_command_line("a 'b").unwrap_err(),
            "unterminated quote"
        );
        assert!(split_command_line("a \"b").is_err());
    }
}
