//! Shell-like splitting of a `--stdio "<command line>"` into program and arguments. No shell runs:
//! quotes group, a backslash escapes the next character, nothing is expanded.

/// Splits `line` into words. Single quotes keep everything literally; double quotes group and
/// honour backslash escapes; outside quotes whitespace separates words. An unterminated quote is
/// an error.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("unterminated double quote".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".to_owned()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next().unwrap_or('\\'));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
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

    #[test]
    fn empty_quotes_are_an_argument() {
        assert_eq!(split_command_line(r#"a "" b"#).unwrap(), vec!["a", "", "b"]);
        assert!(split_command_line("   ").unwrap().is_empty());
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        assert!(split_command_line("a 'b").is_err());
        assert!(split_command_line("a \"b").is_err());
    }
}
