// Compiled by tests/openapi_typescript.rs next to `api.d.ts`, which openapi-typescript generates
// from the served OpenAPI document. If the document loses a type, this stops compiling.
import type { paths, components } from "./api";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

type LoginRequest = Json<paths["/api/auth/login"]["post"]["requestBody"]>;
type LoginOk = Json<paths["/api/auth/login"]["post"]["responses"][200]>;
type ErrorBody = components["schemas"]["ErrorBody"];
type NewExam = Json<paths["/api/exam/create"]["post"]["requestBody"]>;
type Created = Json<paths["/api/exam/create"]["post"]["responses"][201]>;
type Paper = Json<paths["/api/exam-attempt/{examId}/attempt"]["get"]["responses"][200]>;
type ScoreReady = Json<paths["/api/result/{examId}/score"]["get"]["responses"][200]>;
type ScorePending = Json<paths["/api/result/{examId}/score"]["get"]["responses"][202]>;
type ExamId = paths["/api/exam/{examId}"]["get"]["parameters"]["path"]["examId"];

const login: LoginRequest = { email: "student@example.com", password: "a-password-1" };

function bearer(ok: LoginOk): string {
  const role: "USER" | "ADMIN" = ok.user.role;
  return `${role}:${ok.accessToken}`;
}

function explain(error: ErrorBody): string {
  return `${error.code}: ${error.message}`;
}

const exam: NewExam = {
  title: "Algebra",
  durationMinutes: 60,
  startTime: "2026-03-01T10:00:00+05:30",
  endTime: "2026-03-01T12:00:00+05:30",
  graceSeconds: 30,
};

function createdTitle(created: Created): string {
  return created.exam.title + created.exam.state.toLowerCase();
}

function unanswered(paper: Paper): number {
  return paper.exam.questions.filter((q) => q.studentAnswer == null).length;
}

function score(body: ScoreReady | ScorePending): number | null {
  return "score" in body ? body.score : null;
}

const examId: ExamId = "00000000-0000-0000-0000-000000000000";

export { login, bearer, explain, exam, createdTitle, unanswered, score, examId };
