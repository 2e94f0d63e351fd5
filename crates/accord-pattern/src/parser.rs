//! Recursive-descent parser for the STIX 2.1 patterning grammar. Observation operators bind
//! AND tighter than OR tighter than FOLLOWEDBY; comparison AND tighter than OR; all associate to
//! the left. Nesting is bounded, so hostile input gets an error, not a stack overflow.

use crate::PatternError;
use crate::ast::{Comparison, Literal, ObjectPath, Observation, Op, Qualifier, Step, Test};
use crate::lexer::{Kw, Tok, tokens};

/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_DEPTH: usize = 200;

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    depth: usize,
}

type R<T> = Result<T, PatternError>;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn at(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expected(&self, what: &str) -> PatternError {
        PatternError {
            at: self.at(),
            message: format!("expected {what}, found {}", self.peek().describe()),
        }
    }

    fn eat_kw(&mut self, k: Kw) -> bool {
        if *self.peek() == Tok::Keyword(k) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Tok, what: &str) -> R<()> {
        if self.peek() == t {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError {
                at: self.at(),
                message: format!("nested deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    /// `operand (kw operand)*`, joined to the left.
    fn left_assoc<T>(
        &mut self,
        kw: Kw,
        operand: fn(&mut Self) -> R<T>,
        join: fn(Box<T>, Box<T>) -> T,
    ) -> R<T> {
        let mut left = operand(self)?;
        while self.eat_kw(kw) {
            let right = operand(self)?;
            left = join(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn followed_by(&mut self) -> R<Observation> {
        self.left_assoc(Kw::FollowedBy, Self::or_obs, Observation::FollowedBy)
    }

    fn or_obs(&mut self) -> R<Observation> {
        self.left_assoc(Kw::Or, Self::and_obs, Observation::Or)
    }

    fn and_obs(&mut self) -> R<Observation> {
        self.left_assoc(Kw::And, Self::qualified, Observation::And)
    }

    fn qualified(&mut self) -> R<Observation> {
        let mut obs = self.primary_obs()?;
        loop {
            let q = match self.peek() {
                Tok::Keyword(Kw::Within) => {
                    self.bump();
                    let at = self.at();
                    let n = match self.bump() {
                        Tok::Int(v, text) if v > 0 => crate::ast::Number {
                            text,
                            value: v as f64,
                        },
                        Tok::Float(n) if n.value > 0.0 => n,
                        _ => {
                            return Err(PatternError {
                                at,
                                message: "WITHIN needs a positive number of seconds".into(),
                            });
                        }
                    };
                    if !self.eat_kw(Kw::Seconds) {
                        return Err(self.expected("SECONDS"));
                    }
                    Qualifier::Within(n)
                }
                Tok::Keyword(Kw::Repeats) => {
                    self.bump();
                    let at = self.at();
                    let n = match self.bump() {
                        Tok::Int(v, _) if v > 0 => v as u64,
                        _ => {
                            return Err(PatternError {
                                at,
                                message: "REPEATS needs a positive integer".into(),
                            });
                        }
                    };
                    if !self.eat_kw(Kw::Times) {
                        return Err(self.expected("TIMES"));
                    }
                    Qualifier::Repeats(n)
                }
                Tok::Keyword(Kw::Start) => {
                    self.bump();
                    let Tok::Timestamp(start) = self.bump() else {
                        self.pos -= 1;
                        return Err(self.expected("a timestamp t'…' after START"));
                    };
                    if !self.eat_kw(Kw::Stop) {
                        return Err(self.expected("STOP"));
                    }
                    let at = self.at();
                    let Tok::Timestamp(stop) = self.bump() else {
                        self.pos -= 1;
                        return Err(self.expected("a timestamp t'…' after STOP"));
                    };
                    if stop.nanos <= start.nanos {
                        return Err(PatternError {
                            at,
                            message: format!("STOP {} is not later than START {}", stop.text, start.text),
                        });
                    }
                    Qualifier::StartStop(start, stop)
                }
                _ => return Ok(obs),
            };
            obs = Observation::Qualified(Box::new(obs), q);
        }
    }

    fn primary_obs(&mut self) -> R<Observation> {
        match self.peek() {
            Tok::LBrack => {
                self.bump();
                self.enter()?;
                let c = self.or_cmp()?;
                self.expect(&Tok::RBrack, "']' or a comparison operator")?;
                self.depth -= 1;
                Ok(Observation::Simple(c))
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let o = self.followed_by()?;
                self.expect(&Tok::RParen, "')'")?;
                self.depth -= 1;
                Ok(o)
            }
            _ => Err(self.expected("'[' or '('")),
        }
    }

    fn or_cmp(&mut self) -> R<Comparison> {
        self.left_assoc(Kw::Or, Self::and_cmp, Comparison::Or)
    }

    fn and_cmp(&mut self) -> R<Comparison> {
        self.left_assoc(Kw::And, Self::test, Comparison::And)
    }

    fn test(&mut self) -> R<Comparison> {
        if *self.peek() == Tok::LParen {
            self.bump();
            self.enter()?;
            let c = self.or_cmp()?;
            self.expect(&Tok::RParen, "')'")?;
            self.depth -= 1;
            return Ok(c);
        }
        if self.eat_kw(Kw::Exists) {
            return Ok(Comparison::Test(Test::Exists(self.path()?)));
        }
        let path = self.path()?;
        let negated = self.eat_kw(Kw::Not);
        let op =
            match self.peek() {
                Tok::Eq => Op::Eq,
                Tok::Neq => Op::Neq,
                Tok::Gt => Op::Gt,
                Tok::Lt => Op::Lt,
                Tok::Ge => Op::Ge,
                Tok::Le => Op::Le,
                Tok::Keyword(Kw::In) => Op::In,
                Tok::Keyword(Kw::Like) => Op::Like,
                Tok::Keyword(Kw::Matches) => Op::Matches,
                Tok::Keyword(Kw::IsSubset) => Op::IsSubset,
                Tok::Keyword(Kw::IsSuperset) => Op::IsSuperset,
                _ => return Err(self.expected(
                    "a comparison operator (=, !=, <, >, <=, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)",
                )),
            };
        self.bump();
        let at = self.at();
        let value = match op {
            Op::In => self.set()?,
            Op::Like | Op::Matches | Op::IsSubset | Op::IsSuperset => match self.bump() {
                Tok::Str(s) => {
                    if op == Op::Matches {
                        // Syntax only (compiling is the matcher's job, and costs far more).
                        regex_syntax::Parser::new().parse(&s).map_err(|e| PatternError {
                            at,
                            message: format!(
                                "MATCHES needs a regular expression in the Rust regex dialect (no look-around or backreferences): {}",
                                e.to_string().lines().last().unwrap_or_default()
                            ),
                        })?;
                    }
                    Literal::Str(s)
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.expected(&format!("a string after {}", op.as_str())));
                }
            },
            Op::Eq | Op::Neq => self.scalar(true)?,
            _ => self.scalar(false)?,
        };
        Ok(Comparison::Test(Test::Compare {
            path,
            negated,
            op,
            value,
        }))
    }

    fn scalar(&mut self, bool_ok: bool) -> R<Literal> {
        let lit = match self.peek().clone() {
            Tok::Int(v, _) => Literal::Int(v),
            Tok::Float(n) => Literal::Float(n),
            Tok::Str(s) => Literal::Str(s),
            Tok::Hex(h) => Literal::Hex(h),
            Tok::Binary(b) => Literal::Binary(b),
            Tok::Timestamp(t) => Literal::Timestamp(t),
            Tok::Bool(b) if bool_ok => Literal::Bool(b),
            _ => {
                return Err(self.expected(if bool_ok {
                    "a literal"
                } else {
                    "an orderable literal (number, string, hex, binary or timestamp)"
                }));
            }
        };
        self.bump();
        Ok(lit)
    }

    fn set(&mut self) -> R<Literal> {
        self.expect(&Tok::LParen, "'(' to start a set")?;
        let mut items = Vec::new();
        if *self.peek() != Tok::RParen {
            loop {
                items.push(self.scalar(true)?);
                if *self.peek() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(&Tok::RParen, "',' or ')'")?;
        Ok(Literal::Set(items))
    }

    fn path(&mut self) -> R<ObjectPath> {
        let at = self.at();
        let object_type = match self.bump() {
            Tok::Ident(s, _) => s,
            _ => {
                self.pos -= 1;
                return Err(self.expected("an object path (type:property)"));
            }
        };
        self.expect(&Tok::Colon, "':' after the object type")?;
        let mut steps = vec![self.key("a property name")?];
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    steps.push(self.key("a property name after '.'")?);
                }
                Tok::LBrack => {
                    self.bump();
                    let step = match self.bump() {
                        Tok::Star => Step::Any,
                        Tok::Int(n, _) => Step::Index(n),
                        _ => {
                            self.pos -= 1;
                            return Err(self.expected("an index or '*'"));
                        }
                    };
                    self.expect(&Tok::RBrack, "']' after the index")?;
                    steps.push(step);
                }
                _ => break,
            }
        }
        Ok(ObjectPath {
            object_type,
            steps,
            at,
        })
    }

    fn key(&mut self, what: &str) -> R<Step> {
        let at = self.at();
        match self.bump() {
            Tok::Ident(s, false) => Ok(Step::Key(s)),
            Tok::Ident(s, true) => Err(PatternError {
                at,
                message: format!("property name {s:?} has a hyphen: quote it ('{s}')"),
            }),
            Tok::Str(s) => Ok(Step::Key(s)),
            Tok::Keyword(_) => {
                self.pos -= 1;
                let text = self.peek().describe().to_ascii_lowercase();
                self.bump();
                Ok(Step::Key(text))
            }
            _ => {
                self.pos -= 1;
                Err(self.expected(what))
            }
        }
    }
}

/// Parses a whole pattern.
pub fn parse(src: &str) -> Result<Observation, PatternError> {
    let toks = tokens(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    let obs = p.followed_by()?;
    if *p.peek() != Tok::End {
        return Err(p.expected("AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern"));
    }
    Ok(obs)
}
