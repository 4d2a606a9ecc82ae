//! Parameter expressions: `${name}`, arithmetic (`${ego_speed - 5}`, `${(gap + 2) * 0.5}`), the
//! functions `min`, `max`, `abs`, `clamp` and `sqrt`, and comparisons (`<`, `<=`, `>`, `>=`, which
//! give 1 or 0) wherever the language takes a number. [`Num`] is a number as written in a template.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A parsed arithmetic expression over named parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal number.
    Lit(f64),
    /// A parameter reference, with its character offset inside the `${...}` text.
    Param(String, usize),
    /// `-e`.
    Neg(Box<Expr>),
    /// `a op b`.
    Bin(Box<Expr>, Op, Box<Expr>),
    /// `name(args)`, one of [`FUNCTIONS`], with the offset of its name.
    Call(Func, Vec<Expr>, usize),
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `min(a, b, ...)`.
    Min,
    /// `max(a, b, ...)`.
    Max,
    /// `abs(x)`.
    Abs,
    /// `clamp(x, lo, hi)`.
    Clamp,
    /// `sqrt(x)`.
    Sqrt,
}

/// The built-in functions by name, with how many arguments each takes (`None`: two or more).
pub const FUNCTIONS: &[(&str, Func, Option<usize>)] = &[
    ("min", Func::Min, None),
    ("max", Func::Max, None),
    ("abs", Func::Abs, Some(1)),
    ("clamp", Func::Clamp, Some(3)),
    ("sqrt", Func::Sqrt, Some(1)),
];

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `<` (1 when true, else 0)
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Why an expression could not be read or evaluated; `offset` counts characters into the scalar.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Character offset inside the scalar text (0 = the `$`).
    pub offset: usize,
    /// What went wrong.
    pub message: String,
}

/// True when a scalar is meant as an expression: it starts with `${`.
pub fn is_expression(text: &str) -> bool {
    text.trim_start().starts_with("${")
}

/// Parses `${ ... }`. Offsets in errors and parameter references count characters from the `$`.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let lead = text.len() - text.trim_start().len();
    let body_text = text.trim();
    let Some(inner) = body_text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
        return Err(ExprError {
            offset: lead,
            message: "an expression is written `${...}` with nothing around it".into(),
        });
    };
    let chars: Vec<char> = inner.chars().collect();
    let mut p = ExprParser { chars: &chars, pos: 0, base: lead + 2 };
    let e = p.sum()?;
    p.skip_ws();
    if p.pos < chars.len() {
        return Err(p.err(format!("unexpected `{}`", chars[p.pos])));
    }
    Ok(e)
}

struct ExprParser<'a> {
    chars: &'a [char],
    pos: usize,
    base: usize,
}

const MAX_EXPR_DEPTH: usize = 32;

impl ExprParser<'_> {
    fn err(&self, message: String) -> ExprError {
        ExprError { offset: self.base + self.pos, message }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.chars.get(self.pos).copied()
    }

    fn sum(&mut self) -> Result<Expr, ExprError> {
        self.comparison(0)
    }

    /// `a < b` and friends: the loosest binding, at most one per level (`a < b < c` is an error).
    fn comparison(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let lhs = self.sum_at(depth)?;
        let op = match self.peek() {
            Some('<') => Op::Lt,
            Some('>') => Op::Gt,
            _ => return Ok(lhs),
        };
        self.pos += 1;
        let op = if self.chars.get(self.pos) == Some(&'=') {
            self.pos += 1;
            if op == Op::Lt {
                Op::Le
            } else {
                Op::Ge
            }
        } else {
            op
        };
        let rhs = self.sum_at(depth)?;
        if matches!(self.peek(), Some('<' | '>')) {
            return Err(self.err("comparisons do not chain; use parentheses or `min`/`max`".into()));
        }
        Ok(Expr::Bin(Box::new(lhs), op, Box::new(rhs)))
    }

    fn sum_at(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut lhs = self.product(depth)?;
        while let Some(c @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let rhs = self.product(depth)?;
            let op = if c == '+' { Op::Add } else { Op::Sub };
            lhs = Expr::Bin(Box::new(lhs), op, Box::new(rhs));
        }
        Ok(lhs)
    }

    fn product(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut lhs = self.unary(depth)?;
        while let Some(c @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            let rhs = self.unary(depth)?;
            let op = if c == '*' { Op::Mul } else { Op::Div };
            lhs = Expr::Bin(Box::new(lhs), op, Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if depth > MAX_EXPR_DEPTH {
            return Err(self.err("expression nested too deeply".into()));
        }
        match self.peek() {
            Some('-') => {
                self.pos += 1;
                Ok(Expr::Neg(Box::new(self.unary(depth + 1)?)))
            }
            Some('(') => {
                self.pos += 1;
                let e = self.comparison(depth + 1)?;
                if self.peek() != Some(')') {
                    return Err(self.err("expected `)`".into()));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_digit() || *c == '.') {
                    self.pos += 1;
                }
                let s: String = self.chars[start..self.pos].iter().collect();
                s.parse::<f64>()
                    .map(Expr::Lit)
                    .map_err(|_| ExprError { offset: self.base + start, message: format!("`{s}` is not a number") })
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                if self.peek() != Some('(') {
                    return Ok(Expr::Param(name, self.base + start));
                }
                let Some(&(_, func, arity)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
                    let known = FUNCTIONS.iter().map(|(n, _, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                    return Err(ExprError {
                        offset: self.base + start,
                        message: format!("unknown function `{name}`; the functions are {known}"),
                    });
                };
                self.pos += 1;
                let mut args = vec![self.comparison(depth + 1)?];
                while self.peek() == Some(',') {
                    self.pos += 1;
                    args.push(self.comparison(depth + 1)?);
                }
                if self.peek() != Some(')') {
                    return Err(self.err("expected `,` or `)`".into()));
                }
                self.pos += 1;
                let fits = match arity {
                    Some(n) => args.len() == n,
                    None => args.len() >= 2,
                };
                if !fits {
                    let wanted = match arity {
                        Some(1) => "one argument",
                        Some(_) => "three arguments",
                        None => "two or more arguments",
                    };
                    return Err(ExprError {
                        offset: self.base + start,
                        message: format!("`{name}` takes {wanted}, found {}", args.len()),
                    });
                }
                Ok(Expr::Call(func, args, self.base + start))
            }
            Some(c) => Err(self.err(format!("expected a number, a parameter name or `(`, found `{c}`"))),
            None => Err(self.err("expected a number, a parameter name or `(`, found the end".into())),
        }
    }
}

impl Expr {
    /// Every parameter reference with its offset, left to right.
    pub fn params(&self, out: &mut Vec<(String, usize)>) {
        match self {
            Expr::Lit(_) => {}
            Expr::Param(name, at) => out.push((name.clone(), *at)),
            Expr::Neg(e) => e.params(out),
            Expr::Bin(a, _, b) => {
                a.params(out);
                b.params(out);
            }
            Expr::Call(_, args, _) => args.iter().for_each(|a| a.params(out)),
        }
    }

    /// Evaluates with `values`; unknown names, division by zero and non-finite results are errors.
    pub fn eval(&self, values: &BTreeMap<String, f64>) -> Result<f64, ExprError> {
        let v = match self {
            Expr::Lit(v) => *v,
            Expr::Param(name, at) => *values
                .get(name)
                .ok_or_else(|| ExprError { offset: *at, message: format!("unknown parameter `{name}`") })?,
            Expr::Neg(e) => -e.eval(values)?,
            Expr::Bin(a, op, b) => {
                let (x, y) = (a.eval(values)?, b.eval(values)?);
                match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div if y == 0.0 => return Err(ExprError { offset: 0, message: "division by zero".into() }),
                    Op::Div => x / y,
                    Op::Lt => f64::from(u8::from(x < y)),
                    Op::Le => f64::from(u8::from(x <= y)),
                    Op::Gt => f64::from(u8::from(x > y)),
                    Op::Ge => f64::from(u8::from(x >= y)),
                }
            }
            Expr::Call(func, args, at) => {
                let vals = args.iter().map(|a| a.eval(values)).collect::<Result<Vec<_>, _>>()?;
                match func {
                    Func::Min => vals.iter().copied().fold(f64::INFINITY, f64::min),
                    Func::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Func::Abs => libm::fabs(vals[0]),
                    Func::Clamp if vals[1] > vals[2] => {
                        return Err(ExprError {
                            offset: *at,
                            message: format!("`clamp` with a lower bound {} above the upper {}", vals[1], vals[2]),
                        })
                    }
                    Func::Clamp => vals[0].clamp(vals[1], vals[2]),
                    Func::Sqrt if vals[0] < 0.0 => {
                        return Err(ExprError {
                            offset: *at,
                            message: format!("`sqrt` of a negative number ({})", vals[0]),
                        })
                    }
                    Func::Sqrt => libm::sqrt(vals[0]),
                }
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(ExprError { offset: 0, message: "the result is not a finite number".into() })
        }
    }
}

/// A number as written in a scenario template: a literal, or `${expression}` over parameters.
///
/// Variants hold plain `f64`s: expansion evaluates every expression (see `expand`).
#[derive(Debug, Clone, PartialEq)]
pub enum Num {
    /// A literal.
    Lit(f64),
    /// An expression, kept as written.
    Expr(String),
}

impl Default for Num {
    fn default() -> Self {
        Num::Lit(0.0)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::Lit(v)
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Num::Lit(v) => s.serialize_f64(*v),
            Num::Expr(e) => s.serialize_str(e),
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a `${...}` expression")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Lit(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Lit(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                if v.is_finite() {
                    Ok(Num::Lit(v))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                // A malformed expression is still an expression: the parser reports it as E0202
                // at the exact character (see `check_references`), not as a decoding error.
                if is_expression(v) {
                    Ok(Num::Expr(v.to_owned()))
                } else {
                    Err(E::invalid_type(de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Num {
    fn schema_name() -> Cow<'static, str> {
        "Number".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A number, or a `${...}` expression over the scenario's parameters, e.g. `${ego_speed - 5}`.",
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": "^\\s*\\$\\{[^}]*\\}\\s*$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, vals: &[(&str, f64)]) -> Result<f64, ExprError> {
        let values = vals.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        parse(text)?.eval(&values)
    }

    #[test]
    fn arithmetic_follows_precedence() {
        assert_eq!(eval("${ego_speed - 5}", &[("ego_speed", 20.0)]), Ok(15.0));
        assert_eq!(eval("${ (gap + 2) * 0.5 }", &[("gap", 10.0)]), Ok(6.0));
        assert_eq!(eval("${a + b * 2}", &[("a", 1.0), ("b", 3.0)]), Ok(7.0));
        assert_eq!(eval("${-a / 4}", &[("a", 2.0)]), Ok(-0.5));
    }

    #[test]
    fn errors_point_into_the_text() {
        let e = eval("${ego_speed - spd}", &[("ego_speed", 1.0)]).unwrap_err();
        assert_eq!((e.offset, e.message.as_str()), (14, "unknown parameter `spd`"));
        let e = parse("${a + }").unwrap_err();
        assert_eq!(e.offset, 6);
        assert_eq!(eval("${1 / (a - a)}", &[("a", 1.0)]).unwrap_err().message, "division by zero");
        assert!(parse("${((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))}").is_err());
    }

    #[test]
    fn functions_and_comparisons() {
        assert_eq!(eval("${max(a, 3)}", &[("a", 2.0)]), Ok(3.0));
        assert_eq!(eval("${min(a, 3, -1)}", &[("a", 2.0)]), Ok(-1.0));
        assert_eq!(eval("${abs(a - 5)}", &[("a", 2.0)]), Ok(3.0));
        assert_eq!(eval("${clamp(a * 10, 0, 12)}", &[("a", 2.0)]), Ok(12.0));
        assert_eq!(eval("${sqrt(2 * 8 * a)}", &[("a", 2.0)]), Ok(libm::sqrt(32.0)));
        assert_eq!(eval("${a <= 60 / 3.6}", &[("a", 10.0)]), Ok(1.0));
        assert_eq!(eval("${a > 10}", &[("a", 10.0)]), Ok(0.0));
        let e = parse("${mx(a, 3)}").unwrap_err();
        assert_eq!((e.offset, e.message.starts_with("unknown function `mx`")), (2, true));
        assert_eq!(parse("${abs(1, 2)}").unwrap_err().message, "`abs` takes one argument, found 2");
        assert_eq!(eval("${sqrt(a)}", &[("a", -1.0)]).unwrap_err().message, "`sqrt` of a negative number (-1)");
        assert!(parse("${1 < 2 < 3}").is_err());
    }
}
