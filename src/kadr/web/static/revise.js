// Caption fixes on a finished run: a transcript segment's text, a highlight's start and end.
// "Re-render" sends only what changed (POST /v1/runs/{id}/revisions); the API makes a new run
// that redoes only what the edits touch (subtitles, the clips that show them) and the page
// follows it.

import { ApiError, api, idempotencyKey } from "./api.js";
import { navigate } from "./router.js";
import { field, formatTime, h, messageArea } from "./ui.js";

function segmentRow(segment, index) {
  const text = h("textarea", { name: `segment-${index}`, rows: 2, value: segment.text, "data-index": index, "data-original": segment.text });
  return h("li", { class: "revise-segment" }, field(`Segment ${index + 1} at ${formatTime(segment.start)}`, text));
}

function highlightRow(highlight, index, duration) {
  const number = (name, value) =>
    h("input", { type: "number", name, min: 0, max: duration || null, step: 0.1, value: Number(value).toFixed(1), inputMode: "decimal", "data-original": Number(value).toFixed(1) });
  const start = number(`highlight-${index}-start`, highlight.start);
  const end = number(`highlight-${index}-end`, highlight.end);
  return h(
    "li",
    { class: "revise-highlight", "data-index": index },
    h("p", {}, h("strong", {}, `${highlight.rank}. ${highlight.title || "Highlight"}`)),
    h("div", { class: "revise-times" }, field(`Highlight ${highlight.rank} start (seconds)`, start), field(`Highlight ${highlight.rank} end (seconds)`, end)),
  );
}

/** What the form changed, as the revisions API takes it. */
function editsOf(form) {
  const segments = [...form.querySelectorAll("textarea[data-index]")]
    .filter((area) => area.value.trim() !== area.dataset.original.trim())
    .map((area) => ({ index: Number(area.dataset.index), text: area.value }));
  const highlights = [...form.querySelectorAll(".revise-highlight")]
    .map((row) => {
      const [start, end] = row.querySelectorAll("input");
      const changed = start.value !== start.dataset.original || end.value !== end.dataset.original;
      return changed ? { index: Number(row.dataset.index), start: Number(start.value), end: Number(end.value) } : null;
    })
    .filter(Boolean);
  return { segments, highlights };
}

export function reviseSection(run, transcript, highlights, duration) {
  const message = messageArea();
  const submit = h("button", { type: "submit", class: "primary" }, "Re-render");
  const segments = transcript?.segments ?? [];
  const form = h(
    "form",
    { class: "revise", "aria-label": "Fix captions and clips" },
    h("p", { class: "hint" }, "Change what a segment says or when a highlight starts and ends, then re-render: only the clips and subtitles your edits touch are made again."),
    highlights.length
      ? h("fieldset", {}, h("legend", {}, "Highlights"), h("ol", { class: "revise-highlights" }, highlights.map((highlight, index) => highlightRow(highlight, index, duration))))
      : null,
    segments.length
      ? h("fieldset", {}, h("legend", {}, "Transcript"), h("ol", { class: "revise-segments" }, segments.map(segmentRow)))
      : h("p", { class: "empty" }, "This run has no transcript to fix."),
    h("div", { class: "actions" }, submit),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const edits = editsOf(form);
    if (!edits.segments.length && !edits.highlights.length) {
      message.show("Nothing has changed yet: edit a segment's text or a highlight's times first.");
      return;
    }
    submit.disabled = true;
    message.show("Starting the re-render…", "notice");
    try {
      const revision = await api(`/v1/runs/${encodeURIComponent(run.id)}/revisions`, {
        method: "POST",
        headers: { "Idempotency-Key": idempotencyKey() },
        json: edits,
      });
      await navigate(`/runs/${encodeURIComponent(revision.id)}`);
    } catch (error) {
      submit.disabled = false;
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(`Cannot re-render: ${error.message}`);
    }
  });
  return h("section", { class: "card", "aria-labelledby": "revise-heading" }, h("h2", { id: "revise-heading" }, "Fix captions"), form);
}
