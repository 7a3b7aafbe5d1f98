//! The student paper as bytes.
//!
//! A published paper never changes, so what every student sees of it is rendered to JSON once
//! per cache fill, and each request only writes those bytes plus its own small part (saved
//! answers, remaining time, attempt id) — no JSON tree per request.
//!
//! Parts:
//! - [`RenderedPaper`] — the cached value: the questions (what Redis holds, the same JSON as
//!   before) and, per question, its JSON fragments, raw and pre-compressed.
//! - [`BodyWriter`] — where a response body is written: plain bytes, or a gzip stream that
//!   splices the pre-compressed fragments between the per-request pieces.
//!
//! Why the gzip copy is spliced rather than compressed per request: compressing 70 KB costs
//! more CPU than everything else the route does. Each question's fixed part is compressed on
//! its own (a fresh deflate stream, ended by a sync flush so it is byte-aligned and not final),
//! which makes it valid anywhere in a deflate stream; the per-request bytes between them go in
//! stored blocks, and the CRC is computed over the plain bytes (crc32fast runs at several
//! GB/s). The price is a somewhat worse ratio than compressing the whole body at once.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use flate2::{Compress, Compression, FlushCompress, Status};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::attempts::option_order;
use crate::domain::ids::OptionId;
use crate::domain::ids::QuestionId;
use crate::domain::questions::QuestionType;
use rust_decimal::Decimal;

/// An option as students see it: no correctness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaperOption {
    pub id: OptionId,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperQuestion {
    pub exam_question_id: String,
    pub question_order: i64,
    #[serde(with = "crate::domain::scoring::as_number")]
    pub marks: Decimal,
    #[serde(with = "crate::domain::scoring::as_number")]
    pub negative_marks: Decimal,
    pub id: QuestionId,
    pub statement: String,
    pub question_type: QuestionType,
    pub domain: String,
    pub options: Vec<PaperOption>,
}

/// What follows a question's options: the per-student answer comes right after it.
const TAIL: &[u8] = b"],\"studentAnswer\":";

/// One question's JSON, cut where the per-attempt parts go.
struct RenderedQuestion {
    /// `{"examQuestionId":…,"options":[` — every field but the options, in serde's order.
    head: Vec<u8>,
    /// Each option's `{"id":…,"text":…}`, in stored order (shuffled exams reorder them).
    options: Vec<Vec<u8>>,
    /// `head`, the options in stored order and [`TAIL`]: the whole fixed part of an unshuffled
    /// question.
    whole: Vec<u8>,
    /// `whole` as raw deflate ending in a sync flush.
    whole_deflated: Vec<u8>,
}

struct Inner {
    questions: Vec<PaperQuestion>,
    rendered: Vec<RenderedQuestion>,
}

/// A published exam's paper, with what students see of it already rendered. Cheap to clone.
/// Serialises as (and deserialises from) the list of questions, so the shared cache holds the
/// same JSON as the seed's `exam:{id}:questions`; every process renders once per fill.
#[derive(Clone)]
pub struct RenderedPaper(Arc<Inner>);

impl std::fmt::Debug for RenderedPaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedPaper")
            .field("questions", &self.0.questions.len())
            .finish()
    }
}

impl RenderedPaper {
    pub fn render(questions: Vec<PaperQuestion>) -> Result<Self, serde_json::Error> {
        let rendered = questions
            .iter()
            .map(render_question)
            .collect::<Result<_, _>>()?;
        Ok(RenderedPaper(Arc::new(Inner {
            questions,
            rendered,
        })))
    }

    pub fn questions(&self) -> &[PaperQuestion] {
        &self.0.questions
    }

    /// Writes the elements of the paper's `questions` array (without the brackets): options in
    /// the attempt's order when `shuffle_seed` is given, each question's `studentAnswer` from
    /// `answers` (JSON bytes; `null` when absent).
    pub fn write_questions(
        &self,
        out: &mut BodyWriter,
        shuffle_seed: Option<i64>,
        answers: &HashMap<QuestionId, Vec<u8>>,
    ) {
        for (i, (q, r)) in self.0.questions.iter().zip(&self.0.rendered).enumerate() {
            if i > 0 {
                out.dynamic(b",");
            }
            match shuffle_seed {
                None => out.fixed(&r.whole, &r.whole_deflated),
                Some(seed) => {
                    out.dynamic(&r.head);
                    for (k, o) in option_order(seed, q.id, r.options.len())
                        .into_iter()
                        .enumerate()
                    {
                        if k > 0 {
                            out.dynamic(b",");
                        }
                        out.dynamic(&r.options[o]);
                    }
                    out.dynamic(TAIL);
                }
            }
            out.dynamic(answers.get(&q.id).map_or(b"null".as_slice(), Vec::as_slice));
            out.dynamic(b"}");
        }
    }
}

fn render_question(q: &PaperQuestion) -> Result<RenderedQuestion, serde_json::Error> {
    // The question without options ends in `"options":[]}`; cutting the `]}` leaves the head.
    // `options` is the struct's last field, so nothing else is lost.
    let bare = PaperQuestion {
        options: Vec::new(),
        ..q.clone()
    };
    let mut head = serde_json::to_vec(&bare)?;
    if !head.ends_with(b"[]}") {
        return Err(serde::ser::Error::custom(
            "a paper question must end with its options",
        ));
    }
    head.truncate(head.len() - 2);
    let options = q
        .options
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<Vec<_>, _>>()?;
    let mut whole = head.clone();
    for (k, o) in options.iter().enumerate() {
        if k > 0 {
            whole.push(b',');
        }
        whole.extend_from_slice(o);
    }
    whole.extend_from_slice(TAIL);
    let whole_deflated = deflate_segment(&mut Compress::new(Compression::best(), false), &whole);
    Ok(RenderedQuestion {
        head,
        options,
        whole,
        whole_deflated,
    })
}

/// `data` as raw deflate from a fresh dictionary, ended by a sync flush: byte-aligned, not
/// final, referring to nothing before it, so it can sit anywhere in a deflate stream.
fn deflate_segment(c: &mut Compress, data: &[u8]) -> Vec<u8> {
    c.reset();
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start_in = c.total_in();
    loop {
        let consumed = (c.total_in() - start_in) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let status = c.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync);
        let done = (c.total_in() - start_in) as usize == data.len()
            && out.capacity() > out.len()
            && out.ends_with(&[0, 0, 0xff, 0xff]);
        // In-memory compression has no I/O to fail; a `BufError` only means "more room".
        if done || matches!(status, Err(_) | Ok(Status::StreamEnd)) {
            break;
        }
    }
    out
}

impl Serialize for RenderedPaper {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.questions.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RenderedPaper {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let questions = Vec::<PaperQuestion>::deserialize(d)?;
        RenderedPaper::render(questions).map_err(serde::de::Error::custom)
    }
}

/// Pending per-request bytes at least this long are compressed rather than stored.
const COMPRESS_PENDING_FROM: usize = 512;

/// Where a response body is written.
pub enum BodyWriter {
    Identity(Vec<u8>),
    Gzip(GzipSplicer),
}

impl BodyWriter {
    pub fn identity(capacity: usize) -> Self {
        BodyWriter::Identity(Vec::with_capacity(capacity))
    }

    pub fn gzip(capacity: usize) -> Self {
        BodyWriter::Gzip(GzipSplicer::new(capacity))
    }

    /// Bytes of this request only.
    pub fn dynamic(&mut self, bytes: &[u8]) {
        match self {
            BodyWriter::Identity(out) => out.extend_from_slice(bytes),
            BodyWriter::Gzip(g) => {
                g.crc.update(bytes);
                g.len = g.len.wrapping_add(bytes.len() as u32);
                g.pending.extend_from_slice(bytes);
            }
        }
    }

    /// Bytes rendered once, with their pre-compressed segment.
    fn fixed(&mut self, raw: &[u8], deflated: &[u8]) {
        match self {
            BodyWriter::Identity(out) => out.extend_from_slice(raw),
            BodyWriter::Gzip(g) => {
                g.flush_pending();
                g.crc.update(raw);
                g.len = g.len.wrapping_add(raw.len() as u32);
                g.out.extend_from_slice(deflated);
            }
        }
    }

    /// The finished body.
    pub fn finish(self) -> Vec<u8> {
        match self {
            BodyWriter::Identity(out) => out,
            BodyWriter::Gzip(g) => g.finish(),
        }
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.dynamic(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A gzip member assembled from pre-compressed segments and per-request bytes.
pub struct GzipSplicer {
    out: Vec<u8>,
    pending: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u32,
    compressor: Option<Compress>,
}

impl GzipSplicer {
    fn new(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        // ID1 ID2, deflate, no flags, no mtime, no extra flags, unknown OS.
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        GzipSplicer {
            out,
            pending: Vec::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
            compressor: None,
        }
    }

    fn flush_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if self.pending.len() >= COMPRESS_PENDING_FROM {
            // A shuffled paper is all per-request bytes: compress them quickly here.
            let c = self
                .compressor
                .get_or_insert_with(|| Compress::new(Compression::fast(), false));
            let seg = deflate_segment(c, &self.pending);
            self.out.extend_from_slice(&seg);
        } else {
            for chunk in self.pending.chunks(u16::MAX as usize) {
                let n = chunk.len() as u16;
                // A stored block (BFINAL 0, BTYPE 00): the stream is byte-aligned here.
                self.out.push(0);
                self.out.extend_from_slice(&n.to_le_bytes());
                self.out.extend_from_slice(&(!n).to_le_bytes());
                self.out.extend_from_slice(chunk);
            }
        }
        self.pending.clear();
    }

    fn finish(mut self) -> Vec<u8> {
        self.flush_pending();
        // An empty final stored block ends the deflate stream.
        self.out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        let crc = self.crc.clone().finalize();
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&self.len.to_le_bytes());
        self.out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn question(n: usize) -> PaperQuestion {
        PaperQuestion {
            exam_question_id: format!("slot-{n}"),
            question_order: n as i64,
            marks: Decimal::new(25, 1),
            negative_marks: Decimal::ZERO,
            id: QuestionId::new(),
            statement: format!(
                "Question {n}: which \"city\" is the capital? {}",
                "x".repeat(n * 37)
            ),
            question_type: QuestionType::SingleCorrect,
            domain: "Geography".into(),
            options: (0..4)
                .map(|k| PaperOption {
                    id: OptionId::new(),
                    text: format!("Option {k} of {n}"),
                })
                .collect(),
        }
    }

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a valid gzip member with a matching CRC and length");
        out
    }

    fn body(
        paper: &RenderedPaper,
        mut w: BodyWriter,
        seed: Option<i64>,
        answers: &HashMap<QuestionId, Vec<u8>>,
    ) -> Vec<u8> {
        w.dynamic(b"[");
        paper.write_questions(&mut w, seed, answers);
        w.dynamic(b"]");
        w.finish()
    }

    #[test]
    fn the_rendered_questions_read_as_the_questions_with_their_answers() {
        let qs: Vec<PaperQuestion> = (1..=5).map(question).collect();
        let paper = RenderedPaper::render(qs.clone()).expect("render");
        let answers = HashMap::from([(
            qs[1].id,
            b"{\"selectedOptionIds\":[],\"numericalAnswer\":1.5}".to_vec(),
        )]);
        let bytes = body(&paper, BodyWriter::identity(0), None, &answers);
        let read: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let mut expected = serde_json::to_value(&qs).expect("json");
        for (i, q) in expected
            .as_array_mut()
            .expect("array")
            .iter_mut()
            .enumerate()
        {
            q["studentAnswer"] = if i == 1 {
                serde_json::json!({"selectedOptionIds": [], "numericalAnswer": 1.5})
            } else {
                serde_json::Value::Null
            };
        }
        assert_eq!(read, expected);
    }

    #[test]
    fn gzip_and_identity_bodies_are_the_same_bytes_after_decoding() {
        let qs: Vec<PaperQuestion> = (1..=50).map(question).collect();
        let paper = RenderedPaper::render(qs.clone()).expect("render");
        let answers = HashMap::from([
            (qs[7].id, b"{\"a\":1}".to_vec()),
            (qs[49].id, b"{}".to_vec()),
        ]);
        for seed in [None, Some(42)] {
            let plain = body(&paper, BodyWriter::identity(0), seed, &answers);
            let gz = body(&paper, BodyWriter::gzip(0), seed, &answers);
            assert_eq!(gunzip(&gz), plain, "seed {seed:?}");
            assert!(
                gz.len() < plain.len() / 2,
                "{} of {}",
                gz.len(),
                plain.len()
            );
            serde_json::from_slice::<serde_json::Value>(&plain).expect("valid JSON");
        }
    }

    #[test]
    fn a_paper_read_back_from_the_shared_cache_renders_the_same_bytes() {
        let paper = RenderedPaper::render((1..=3).map(question).collect()).expect("render");
        let json = serde_json::to_vec(&paper).expect("serialise");
        let back: RenderedPaper = serde_json::from_slice(&json).expect("deserialise");
        let none = HashMap::new();
        assert_eq!(
            body(&back, BodyWriter::identity(0), Some(7), &none),
            body(&paper, BodyWriter::identity(0), Some(7), &none)
        );
        assert_eq!(back.questions(), paper.questions());
    }
}
