// Scenarios: the list (yours and those shared with you), a new one by hand, or one written by
// the language model from a brief or from a finished run (a re-cut of its video).

import { ApiError, api, idempotencyKey } from "../api.js";
import { navigate } from "../router.js";
import { field, formatDate, formatDuration, h, messageArea, setTitle, statusBadge } from "../ui.js";
import { PLATFORMS, platformWords } from "../scenario-form.js";

const PAGE_SIZE = 50;

/** What a 501 (no language model here) or another refusal means for the person asking. */
export function generationRefusal(error) {
  if (error.status === 501) {
    return `kadr cannot write scenarios on this server: ${error.message}. Write one by hand instead, or ask whoever runs kadr to configure a language model.`;
  }
  if (error.status === 429) return `Not now: ${error.message}`;
  return error.message;
}

function scenarioRow(scenario) {
  return h(
    "tr",
    {},
    h("th", { scope: "row" }, h("a", { href: `/scenarios/${encodeURIComponent(scenario.id)}` }, scenario.title || "Untitled")),
    h("td", {}, statusBadge(scenario.status)),
    h("td", {}, platformWords(scenario.platform), " · ", scenario.aspect),
    h("td", {}, formatDuration(scenario.target_duration_s)),
    h("td", {}, `${scenario.scenes.length}`),
    h("td", {}, scenario.role === "owner" ? "yours" : `shared with you (${scenario.role})`),
    h("td", {}, formatDate(scenario.updated_at)),
  );
}

async function finishedRuns() {
  try {
    return (await api("/v1/runs?status=succeeded&limit=50")).items;
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) return [];
    throw error;
  }
}

function generateForm(runs) {
  const topic = h("textarea", { rows: 2, maxLength: 500, placeholder: "Why cats sleep all day" });
  const audience = h("input", { type: "text", maxLength: 300, placeholder: "pet owners" });
  const platform = h("select", {}, PLATFORMS.map(([value, words]) => h("option", { value }, words)));
  const duration = h("input", { type: "number", min: 5, max: 1800, value: 60, required: true });
  const tone = h("input", { type: "text", maxLength: 200, placeholder: "warm" });
  const language = h("input", { type: "text", maxLength: 16, placeholder: "en", autocomplete: "off" });
  const run = h(
    "select",
    {},
    h("option", { value: "" }, "None: write from the topic"),
    runs.map((item) => h("option", { value: item.id }, `${item.id} (${item.profile_name}, ${formatDate(item.created_at)})`)),
  );
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Write it");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "generate-heading" },
    h("h2", { id: "generate-heading" }, "Write one with AI"),
    field("Topic", topic, "What the video is about; or leave it empty and pick a run to re-cut."),
    field("Re-cut a run", run, runs.length ? "A finished run: its transcript and highlights become the scenes." : "No finished runs yet: process a video first to re-cut it."),
    h(
      "div",
      { class: "grid-fields" },
      field("Audience", audience),
      field("Platform", platform),
      field("Duration (seconds)", duration),
      field("Tone", tone),
      field("Language", language, "Default: your profile's."),
    ),
    message,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    const brief = {
      platform: platform.value,
      duration_s: Number(duration.value),
      audience: audience.value.trim(),
      tone: tone.value.trim(),
    };
    if (topic.value.trim()) brief.topic = topic.value.trim();
    if (run.value) brief.run_id = run.value;
    if (language.value.trim()) brief.language = language.value.trim();
    if (!brief.topic && !brief.run_id) {
      message.show("Give a topic, or pick a run to re-cut.");
      topic.focus();
      return;
    }
    submit.disabled = true;
    try {
      const scenario = await api("/v1/scenarios/generate", {
        method: "POST",
        json: brief,
        headers: { "Idempotency-Key": idempotencyKey() },
      });
      await navigate(`/scenarios/${encodeURIComponent(scenario.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status > 502) throw error;
      message.show(generationRefusal(error));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function render(main, { query, signal }) {
  setTitle("Scenarios");
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const [page, runs] = await Promise.all([
    api(`/v1/scenarios?limit=${PAGE_SIZE}&offset=${offset}`, { signal }),
    finishedRuns(),
  ]);
  const list = page.items.length
    ? h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, "Your scenarios"),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Title", "Status", "Platform", "Target", "Scenes", "Whose", "Changed"].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h("tbody", {}, page.items.map(scenarioRow)),
        ),
      )
    : h(
        "p",
        { class: "empty" },
        "No scenarios yet. Write one by hand with “New scenario”, or have the language model write one from a brief below.",
      );
  const pager = [];
  if (offset > 0) pager.push(h("a", { href: `/scenarios?offset=${Math.max(0, offset - PAGE_SIZE)}` }, "Newer"));
  if (offset + page.items.length < page.total) pager.push(h("a", { href: `/scenarios?offset=${offset + PAGE_SIZE}` }, "Older"));
  main.append(
    h("div", { class: "heading-row" }, h("h1", {}, "Scenarios"), h("a", { href: "/scenarios/new", class: "button primary" }, "New scenario")),
    h("p", { class: "muted" }, "Video scripts, scene by scene, with their timing checked as you write."),
    h("h2", {}, `Your scenarios (${page.total})`),
    list,
  );
  if (pager.length) main.append(h("nav", { class: "pager", "aria-label": "Pages of scenarios" }, pager));
  main.append(generateForm(runs));
}
