//! The question bank: questions, their options and numerical keys.

use std::str::FromStr;

use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{flag, now_ms};
use crate::domain::ids::{QuestionId, UserId};
use crate::domain::questions::{Difficulty, NumericalKey, Question, QuestionOption, QuestionType};

/// Reads a decimal column selected as `CAST(x AS TEXT)`. SQLite may render a stored number in
/// exponent form (`1.0e-06`), hence the scientific fallback.
pub fn decimal(row: &AnyRow, column: &str) -> Result<Decimal, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse_decimal(&text)
}

pub fn opt_decimal(row: &AnyRow, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    text.as_deref().map(parse_decimal).transpose()
}

fn parse_decimal(text: &str) -> Result<Decimal, sqlx::Error> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map(|d| d.normalize())
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

pub fn parse_id<T: FromStr>(text: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Filters of the bank's list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub domain: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub question_type: Option<QuestionType>,
    pub search: Option<String>,
}

const COLUMNS: &str = "id, statement, question_type, domain, CAST(marks AS TEXT) AS marks, \
     CAST(negative_marks AS TEXT) AS negative_marks, difficulty, partial_credit, version";

fn base_from_row(row: &AnyRow) -> Result<Question, sqlx::Error> {
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("question_type")?;
    let difficulty: String = row.try_get("difficulty")?;
    Ok(Question {
        id: parse_id(&id)?,
        statement: row.try_get("statement")?,
        question_type: QuestionType::parse(&kind).unwrap_or(QuestionType::SingleCorrect),
        domain: row.try_get("domain")?,
        marks: decimal(row, "marks")?,
        negative_marks: decimal(row, "negative_marks")?,
        difficulty: Difficulty::parse(&difficulty).unwrap_or(Difficulty::Medium),
        partial_credit: flag(row, "partial_credit")?,
        options: Vec::new(),
        numerical: None,
        version: row.try_get("version")?,
    })
}

async fn insert_parts(conn: &mut AnyConnection, q: &Question) -> Result<(), sqlx::Error> {
    for (position, o) in q.options.iter().enumerate() {
        sqlx::query(
            "INSERT INTO question_options (id, question_id, position, text, is_correct) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(o.id.to_string())
        .bind(q.id.to_string())
        .bind(position as i64)
        .bind(&o.text)
        .bind(o.is_correct)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(n) = q.numerical {
        sqlx::query(
            "INSERT INTO numerical_answers (question_id, value, tolerance) VALUES ($1, CAST($2 AS NUMERIC), CAST($3 AS NUMERIC))",
        )
        .bind(q.id.to_string())
        .bind(n.value.to_string())
        .bind(n.tolerance.to_string())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn insert(
    conn: &mut AnyConnection,
    q: &Question,
    created_by: Option<UserId>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO questions (id, statement, question_type, domain, marks, negative_marks, difficulty, partial_credit, version, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, CAST($5 AS NUMERIC), CAST($6 AS NUMERIC), $7, $8, $9, $10, $11, $11)",
    )
    .bind(q.id.to_string())
    .bind(&q.statement)
    .bind(q.question_type.as_str())
    .bind(&q.domain)
    .bind(q.marks.to_string())
    .bind(q.negative_marks.to_string())
    .bind(q.difficulty.as_str())
    .bind(q.partial_credit)
    .bind(q.version)
    .bind(created_by.map(|u| u.to_string()))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    insert_parts(conn, q).await
}

/// Replaces a question's fields, options and key, on the condition that it is still at
/// `previous_version` (a concurrent edit makes this return false).
pub async fn replace(
    conn: &mut AnyConnection,
    q: &Question,
    previous_version: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE questions SET statement = $2, question_type = $3, domain = $4, marks = CAST($5 AS NUMERIC),
                negative_marks = CAST($6 AS NUMERIC), difficulty = $7, partial_credit = $8, version = $9, updated_at = $10
         WHERE id = $1 AND version = $11",
    )
    .bind(q.id.to_string())
    .bind(&q.statement)
    .bind(q.question_type.as_str())
    .bind(&q.domain)
    .bind(q.marks.to_string())
    .bind(q.negative_marks.to_string())
    .bind(q.difficulty.as_str())
    .bind(q.partial_credit)
    .bind(q.version)
    .bind(now_ms())
    .bind(previous_version)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    replace_parts(conn, q).await?;
    Ok(true)
}

/// Replaces a question's options and numerical key with `q`'s (an update, or a re-import).
pub(crate) async fn replace_parts(
    conn: &mut AnyConnection,
    q: &Question,
) -> Result<(), sqlx::Error> {
    for table in ["question_options", "numerical_answers"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE question_id = $1"))
            .bind(q.id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    insert_parts(conn, q).await
}

async fn load_parts(conn: &mut AnyConnection, q: &mut Question) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, text, is_correct FROM question_options WHERE question_id = $1 ORDER BY position",
    )
    .bind(q.id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    q.options = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(QuestionOption {
                id: parse_id(&id)?,
                text: r.try_get("text")?,
                is_correct: flag(r, "is_correct")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let key = sqlx::query(
        "SELECT CAST(value AS TEXT) AS value, CAST(tolerance AS TEXT) AS tolerance FROM numerical_answers WHERE question_id = $1",
    )
    .bind(q.id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    q.numerical = key
        .map(|r| {
            Ok::<_, sqlx::Error>(NumericalKey {
                value: decimal(&r, "value")?,
                tolerance: decimal(&r, "tolerance")?,
            })
        })
        .transpose()?;
    Ok(())
}

pub async fn get(
    conn: &mut AnyConnection,
    id: QuestionId,
) -> Result<Option<Question>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM questions WHERE id = $1");
    let Some(row) = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut q = base_from_row(&row)?;
    load_parts(conn, &mut q).await?;
    Ok(Some(q))
}

/// The search term as a LIKE pattern that matches it literally: a `%` or `_` typed by the user
/// is text to find, not a wildcard. Both backends take the escape character from `ESCAPE`
/// (PostgreSQL's default is the same backslash; SQLite has none without it).
fn escape_like(term: &str) -> String {
    let mut out = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One page of the bank, newest first, and the number of matches.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Question>, i64), sqlx::Error> {
    // Unused filters compare a NULL parameter, so one statement serves every combination.
    let conditions = "($1 IS NULL OR domain = $1) AND ($2 IS NULL OR difficulty = $2) \
         AND ($3 IS NULL OR question_type = $3) AND ($4 IS NULL OR lower(statement) LIKE $4 ESCAPE '\\')";
    let search = filter
        .search
        .as_ref()
        .map(|s| format!("%{}%", escape_like(&s.to_lowercase())));
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM questions WHERE {conditions}"
    ))
    .bind(filter.domain.clone())
    .bind(filter.difficulty.map(|d| d.as_str()))
    .bind(filter.question_type.map(|t| t.as_str()))
    .bind(search.clone())
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM questions WHERE {conditions} ORDER BY created_at DESC, id LIMIT $5 OFFSET $6"
    ))
    .bind(filter.domain.clone())
    .bind(filter.difficulty.map(|d| d.as_str()))
    .bind(filter.question_type.map(|t| t.as_str()))
    .bind(search)
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut q = base_from_row(row)?;
        load_parts(conn, &mut q).await?;
        out.push(q);
    }
    Ok((out, total))
}

pub async fn delete(conn: &mut AnyConnection, id: QuestionId) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM questions WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// States of the exams that use the question (empty when unused).
pub async fn used_in(conn: &mut AnyConnection, id: QuestionId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT e.state FROM exam_questions eq JOIN exams e ON e.id = eq.exam_id WHERE eq.question_id = $1",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(escape_like("100%"), "100\\%");
        assert_eq!(escape_like("a_c"), "a\\_c");
        assert_eq!(escape_like("c:\\dir"), "c:\\\\dir");
        assert_eq!(escape_like("plain"), "plain");
    }
}
