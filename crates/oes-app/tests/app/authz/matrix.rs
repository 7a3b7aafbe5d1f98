//! The matrix itself, as data: one [`Row`] per route (method and path as the OpenAPI document
//! spells them), what each cell's request carries, and the status every (caller, column) cell
//! must answer, written as a rule.
//!
//! Reading the rules: the attempt and result routes take an exam id, never an attempt id; whose
//! attempt is meant is the caller's own. So "another student's attempt" is not something a
//! request can name, and a student without an attempt at the exam (the other student) gets what
//! a student gets for no attempt: 403 `no_active_attempt` from the paper and save, 400 from
//! submit, 404 from the results.

use serde_json::{Value, json};

use super::{Caller, Column, Phase};
use crate::support::PASSWORD;

/// One route of the matrix.
pub struct Row {
    pub method: &'static str,
    /// As in the OpenAPI document (`{examId}`, `{id}`, `{token}`, `{queue}`).
    pub path: &'static str,
    pub on: On,
    pub needs: Needs,
    /// What `{id}` names, for the routes that have one.
    pub id: Id,
    pub body: fn(&Ctx) -> Option<Value>,
    pub expect: Expect,
}

/// Whether the route is about the exam in the path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// Not about one exam; asked in every phase of the world all the same, since some (the
    /// leaderboard, the lists) read whatever exam the world holds.
    World,
    /// `{examId}` is the exam in the phase of the column; in the before-start stage also a
    /// draft (the `draft` column) and an id of no exam (`no-exam`).
    Exam,
}

/// What a cell uses up, so that one cell cannot spoil the next.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// A principal of its own, of the caller's kind (a student owning an attempt in the same
    /// state, a student without one, an admin): for routes that end sessions, change passwords,
    /// start or submit attempts.
    FreshPrincipal,
    /// In the draft column, a draft of its own with one question (deleted, published, changed).
    FreshDraft,
    /// `{id}` is a bank question of its own (deleted).
    FreshQuestion,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Id {
    None,
    /// A bank question in no exam.
    BankQuestion,
    /// The notification the fixture sent.
    Notification,
    /// That notification's fan-out job in the `notifications` queue.
    Job,
}

/// What a body builder may use.
pub struct Ctx<'a> {
    /// A question of the column's exam, and one of its options.
    pub question: &'a str,
    pub option: &'a str,
    /// A bank question in no exam (to add to a draft).
    pub bank_question: &'a str,
    /// An account that [`PASSWORD`] opens.
    pub login_email: &'a str,
    /// A tag no other cell gets (addresses, enrollment numbers).
    pub unique: &'a str,
}

/// The expected status of every cell of a row.
pub enum Expect {
    /// Every caller, in every column, whatever session (or other token) comes along.
    Anyone(u16),
    /// Anonymous 401; every signed-in caller this.
    SignedIn(u16),
    /// Anonymous 401, students 403, the admin this.
    AdminOnly(u16),
    /// Admin-only, on an exam: the admin gets `published` on the phase exams (all published),
    /// `draft` on a draft, 404 for an id of no exam. Students get their 403 whether the exam
    /// exists or not: the refusal comes before the lookup.
    AdminOnExam { published: u16, draft: u16 },
    /// Per caller and column.
    Rule(fn(Caller, Column) -> u16),
}

impl Expect {
    pub fn status(&self, caller: Caller, column: Column) -> u16 {
        let student = matches!(
            caller,
            Caller::OwnerOpen | Caller::OwnerDone | Caller::Other
        );
        match (self, caller) {
            (Expect::Anyone(s), _) => *s,
            // No session is no session, however the token came to be dead.
            (_, Caller::SignedOut) => self.status(Caller::Anonymous, column),
            // A session, but not one that may use the routes that need a session.
            (_, Caller::Unverified) => match self.status(Caller::Anonymous, column) {
                401 => 403,
                anonymous => anonymous,
            },
            (Expect::Rule(rule), _) => rule(caller, column),
            (_, Caller::Anonymous) => 401,
            (Expect::SignedIn(s), _) => *s,
            (_, _) if student => 403,
            (Expect::AdminOnly(s), _) => *s,
            (Expect::AdminOnExam { published, draft }, _) => match column {
                Column::Draft => *draft,
                Column::Unknown => 404,
                Column::Phase(_) => *published,
            },
        }
    }
}

use Caller::{Admin, Anonymous, Other, OwnerDone, OwnerOpen};
use Column::{Draft, Phase as In, Unknown};
use Expect::{AdminOnExam, AdminOnly, Anyone, Rule, SignedIn};
use Phase::{Ended, Grace, Live};

/// Admins never take exams (`admin_cannot_attempt`, whatever the exam); a student may start
/// only a live published exam, once: 400 `exam_not_available` for a draft or no exam, `exam_not_active`
/// outside the window (the grace period belongs to attempts already started, not to new ones),
/// `already_attempted` for an owner.
fn start(caller: Caller, column: Column) -> u16 {
    match (caller, column) {
        (Anonymous, _) => 401,
        (Admin, _) => 403,
        (Other, In(Live)) => 201,
        _ => 400,
    }
}

/// The paper and save: only the owner of an open attempt, from the start until the attempt's
/// hard end (the window's end plus grace); a finished attempt is 403 `attempt_not_active`, no
/// attempt 403 `no_active_attempt`, a draft or no exam 404 for everyone.
fn open_attempt(caller: Caller, column: Column) -> u16 {
    match (caller, column) {
        (Anonymous, _) => 401,
        (_, Draft | Unknown) => 404,
        (OwnerOpen, In(Live | Grace)) => 200,
        _ => 403,
    }
}

/// Submit: the owner of an open attempt, until its hard end; anyone else 400
/// (`no_active_attempt`, or `already_submitted` for a finished attempt).
fn submit(caller: Caller, column: Column) -> u16 {
    match (caller, column) {
        (Anonymous, _) => 401,
        (OwnerOpen, In(Live | Grace)) => 200,
        _ => 400,
    }
}

/// A score and its analysis: only the caller's own attempt, only once the exam's end plus its
/// grace period has passed. Before that: 400 `attempt_in_progress` for an open attempt, 403
/// `results_not_released` for a finished one; 404 without an attempt (admins never have one).
fn result(caller: Caller, column: Column) -> u16 {
    match (caller, column) {
        (Anonymous, _) => 401,
        (OwnerOpen | OwnerDone, In(Ended)) => 200,
        (OwnerOpen, In(Live | Grace)) => 400,
        (OwnerDone, In(Live | Grace)) => 403,
        _ => 404,
    }
}

/// The home page's leaderboard is public, as the original's was: the exam that ended last
/// among those whose results are released (its end plus grace has passed), for anyone, signed
/// in or not; 404 while none is released, also during the grace period (a 403 there would send
/// the frontend's visitors to /login).
fn leaderboard(_: Caller, column: Column) -> u16 {
    match column {
        In(Ended) => 200,
        _ => 404,
    }
}

fn none(_: &Ctx) -> Option<Value> {
    None
}

fn empty(_: &Ctx) -> Option<Value> {
    Some(json!({}))
}

fn email(ctx: &Ctx, tag: &str) -> String {
    format!("{tag}-{}@example.org", ctx.unique)
}

fn signup(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "fullName": "New Student", "email": email(ctx, "signup"), "password": PASSWORD }))
}

fn login(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "email": ctx.login_email, "password": PASSWORD }))
}

fn unknown_address(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "email": email(ctx, "nobody") }))
}

fn reset(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "email": ctx.login_email, "otp": "000000", "newPassword": "another horse 43" }))
}

fn change_password(_: &Ctx) -> Option<Value> {
    Some(json!({ "currentPassword": PASSWORD, "newPassword": "another horse 43" }))
}

fn profile(ctx: &Ctx) -> Option<Value> {
    Some(json!({
        "fullName": "Asha Rao", "course": "btech", "department": "CST", "year": "THREE",
        "semester": "S5", "enrollmentNumber": format!("EN-{}", ctx.unique)
    }))
}

fn email_change(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "newEmail": email(ctx, "moved"), "password": PASSWORD }))
}

fn new_question(_: &Ctx) -> Option<Value> {
    Some(json!({
        "statement": "Made by a cell", "questionType": "SINGLE_CORRECT", "domain": "authz",
        "options": [{ "text": "yes", "isCorrect": true }, { "text": "no", "isCorrect": false }]
    }))
}

fn question_change(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "statement": format!("Changed by {}", ctx.unique) }))
}

fn new_exam(_: &Ctx) -> Option<Value> {
    Some(json!({
        "title": "Made by a cell", "durationMinutes": 30,
        "startTime": crate::exams::rfc3339(3600), "endTime": crate::exams::rfc3339(7200)
    }))
}

fn exam_change(_: &Ctx) -> Option<Value> {
    Some(json!({ "title": "Renamed by a cell" }))
}

fn add_question(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "addQuestionIds": [{ "questionId": ctx.bank_question }] }))
}

fn answer(ctx: &Ctx) -> Option<Value> {
    Some(json!({ "questionId": ctx.question, "selectedOptionIds": [ctx.option] }))
}

fn notification(ctx: &Ctx) -> Option<Value> {
    Some(json!({
        "subject": "Room change", "body": "Exam moved to hall B.", "audience": "ADDRESSES",
        "addresses": [email(ctx, "notified")]
    }))
}

const fn row(
    method: &'static str,
    path: &'static str,
    body: fn(&Ctx) -> Option<Value>,
    expect: Expect,
) -> Row {
    Row {
        method,
        path,
        on: On::World,
        needs: Needs::Nothing,
        id: Id::None,
        body,
        expect,
    }
}

impl Row {
    const fn on_exam(mut self) -> Row {
        self.on = On::Exam;
        self
    }

    const fn needs(mut self, needs: Needs) -> Row {
        self.needs = needs;
        self
    }

    const fn id(mut self, id: Id) -> Row {
        self.id = id;
        self
    }
}

/// Every route the server answers. Tokens in paths are well-formed but unknown (64 zeros), so
/// the public token routes answer their 400 to everyone: what the matrix asserts there is that
/// no session is required and none is honoured.
#[rustfmt::skip]
pub const ROWS: &[Row] = &[
    // Probes and the document: public.
    row("GET",    "/api/health",                             none,            Anyone(200)),
    row("GET",    "/api/ready",                              none,            Anyone(200)),
    row("GET",    "/api/openapi.json",                       none,            Anyone(200)),
    // Accounts: public whatever session comes along, but change-password needs one.
    row("POST",   "/api/auth/signup",                        signup,          Anyone(201)),
    row("POST",   "/api/auth/login",                         login,           Anyone(200)),
    row("POST",   "/api/auth/logout",                        none,            Anyone(200)).needs(Needs::FreshPrincipal),
    row("POST",   "/api/auth/verify-email/{token}",          empty,           Anyone(400)),
    row("POST",   "/api/auth/resend-verification",           unknown_address, Anyone(200)),
    row("POST",   "/api/auth/forgot-password",               unknown_address, Anyone(200)),
    row("POST",   "/api/auth/reset-password",                reset,           Anyone(400)),
    row("POST",   "/api/auth/change-password",               change_password, SignedIn(200)).needs(Needs::FreshPrincipal),
    // The caller's own profile, admins included; the confirmation link is the credential.
    row("GET",    "/api/profile/me",                         none,            SignedIn(200)),
    row("PUT",    "/api/profile/me",                         profile,         SignedIn(200)),
    row("POST",   "/api/profile/email",                      email_change,    SignedIn(200)),
    row("POST",   "/api/profile/email/confirm/{token}",      empty,           Anyone(400)),
    // The question bank: administrators only.
    row("GET",    "/api/question",                           none,            AdminOnly(200)),
    row("GET",    "/api/question/",                          none,            AdminOnly(200)),
    row("POST",   "/api/question/create",                    new_question,    AdminOnly(201)),
    row("GET",    "/api/question/{id}",                      none,            AdminOnly(200)).id(Id::BankQuestion),
    row("PUT",    "/api/question/{id}",                      question_change, AdminOnly(200)).id(Id::BankQuestion),
    row("DELETE", "/api/question/{id}",                      none,            AdminOnly(204)).needs(Needs::FreshQuestion),
    // Exams: the lists for every signed-in user, the rest for administrators; changes only to
    // drafts (400 exam_not_draft once published, whatever the phase).
    row("GET",    "/api/exam/upcoming",                      none,            SignedIn(200)),
    row("GET",    "/api/exam/live",                          none,            SignedIn(200)),
    row("POST",   "/api/exam/create",                        new_exam,        AdminOnly(201)),
    row("GET",    "/api/exam/all",                           none,            AdminOnly(200)),
    row("GET",    "/api/exam/{examId}",                      none,            AdminOnExam { published: 200, draft: 200 }).on_exam(),
    row("PUT",    "/api/exam/{examId}",                      exam_change,     AdminOnExam { published: 400, draft: 200 }).on_exam().needs(Needs::FreshDraft),
    row("DELETE", "/api/exam/{examId}",                      none,            AdminOnExam { published: 400, draft: 200 }).on_exam().needs(Needs::FreshDraft),
    row("POST",   "/api/exam/{examId}/questions",            add_question,    AdminOnExam { published: 400, draft: 200 }).on_exam().needs(Needs::FreshDraft),
    row("POST",   "/api/exam/{examId}/publish",              none,            AdminOnExam { published: 400, draft: 200 }).on_exam().needs(Needs::FreshDraft),
    // A student's own attempt at the exam of the column.
    row("POST",   "/api/exam-attempt/{examId}/start",        none,            Rule(start)).on_exam().needs(Needs::FreshPrincipal),
    row("GET",    "/api/exam-attempt/{examId}/attempt",      none,            Rule(open_attempt)).on_exam(),
    row("POST",   "/api/exam-attempt/{examId}/save",         answer,          Rule(open_attempt)).on_exam(),
    row("POST",   "/api/exam-attempt/{examId}/submit",       none,            Rule(submit)).on_exam().needs(Needs::FreshPrincipal),
    // Results: the caller's own, released after the end plus grace.
    row("GET",    "/api/result",                             none,            SignedIn(200)),
    row("GET",    "/api/result/",                            none,            SignedIn(200)),
    row("GET",    "/api/result/{examId}/score",              none,            Rule(result)).on_exam(),
    row("GET",    "/api/result/{examId}/analysis",           none,            Rule(result)).on_exam(),
    row("GET",    "/api/leaderboard/top-five",               none,            Rule(leaderboard)),
    // Administration.
    row("POST",   "/api/admin/notifications",                notification,    AdminOnly(202)),
    row("GET",    "/api/admin/notifications/{id}",           none,            AdminOnly(200)).id(Id::Notification),
    row("GET",    "/api/admin/queues",                       none,            AdminOnly(200)),
    row("GET",    "/api/admin/queues/{queue}/failed",        none,            AdminOnly(200)),
    row("POST",   "/api/admin/queues/{queue}/retry",         none,            AdminOnly(200)),
    row("GET",    "/api/admin/queues/{queue}/jobs/{id}",     none,            AdminOnly(200)).id(Id::Job),
    // The job is not a failed one: the admin reaches the handler and gets its 409 not_failed.
    row("POST",   "/api/admin/queues/{queue}/jobs/{id}/retry", none,          AdminOnly(409)).id(Id::Job),
    row("GET",    "/api/admin/cache",                        none,            AdminOnly(200)),
    row("GET",    "/api/admin/redis",                        none,            AdminOnly(200)),
    // Outside /api: the dashboard is a static page (its data comes from the admin API above);
    // /metrics takes a token of its own, which no session is.
    row("GET",    "/metrics",                                none,            Anyone(401)),
    row("GET",    "/admin/queues",                           none,            Anyone(200)),
    row("GET",    "/admin/queues/dashboard.js",              none,            Anyone(200)),
    row("GET",    "/admin/queues/dashboard.css",             none,            Anyone(200)),
    row("GET",    "/admin/queues/favicon.svg",               none,            Anyone(200)),
];
