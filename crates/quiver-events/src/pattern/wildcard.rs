//! `wildcard` patterns: `*` stands for any run of characters, `\*` for a star and
//! `\\` for a backslash.

/// A compiled wildcard: the literal pieces between stars.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    /// Literal runs; a star sits between each two.
    pieces: Vec<String>,
}

impl Wildcard {
    /// Compiles the pattern text or says why EventBridge refuses it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars().enumerate().peekable();
        let mut last_was_star = false;
        while let Some((pos, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e @ ('*' | '\\'))) => {
                        pieces.last_mut().expect("never empty").push(e);
                        last_was_star = false;
                    }
                    _ => return Err(format!("Invalid escape character at pos {pos}")),
                },
                '*' => {
                    if last_was_star {
                        return Err(format!("Consecutive wildcard characters at pos {pos}"));
                    }
                    pieces.push(String::new());
                    last_was_star = true;
                }
                other => {
                    pieces.last_mut().expect("never empty").push(other);
                    last_was_star = false;
                }
            }
        }
        Ok(Wildcard { pieces })
    }

    /// Whether the whole of `s` fits the pattern.
    pub fn matches(&self, s: &str) -> bool {
        let (first, rest) = self.pieces.split_first().expect("never empty");
        if rest.is_empty() {
            return s == first;
        }
        let Some(mut tail) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let (last, middle) = rest.split_last().expect("checked non-empty");
        for piece in middle {
            match tail.find(piece.as_str()) {
                Some(at) => tail = &tail[at + piece.len()..],
                None => return false,
            }
        }
        tail.len() >= last.len() && tail.ends_with(last.as_str())
    }
}
