// Review a run that stopped for a person (`review` when it was started): the transcript, or each
// translation beside the words it translates, to correct before the rest of the run uses it.
// Save puts the whole edited document back (PUT /v1/runs/{id}/artifacts/{name}: the API checks
// it and writes the subtitles again); Go on resumes the run (POST /v1/runs/{id}/resume).

import { ApiError, api } from "../api.js";
import { navigate } from "../router.js";
import { formatDuration, h, messageArea, setTitle, uid } from "../ui.js";

const TRANSLATION = /^translations\/([^/]+)\/cues\.json$/;

/** The component the run waits after: the first it was to stop after that is done and not let go. */
function awaited(run) {
  return run.review.find(
    (name) => !run.reviewed.includes(name) && run.components.some((c) => c.name === name && c.status === "succeeded"),
  );
}

async function documentOf(artifact, signal) {
  // The signed link works with local storage and with S3's presigned URLs alike.
  const response = await fetch(artifact.download_url, { signal });
  if (!response.ok) throw new Error(`${artifact.name} could not be read (${response.status})`);
  return response.json();
}

function span(item) {
  return `${formatDuration(item.start)}–${formatDuration(item.end)}`;
}

/**
 * One editable document: a row per timed item, the original words (`source`, for translations)
 * beside a text box, and a Save button that sends the document back with the new texts.
 */
function editor({ runId, artifact, document, key, heading, sourceLabel }) {
  const items = document[key];
  const message = messageArea();
  const boxes = items.map((item, index) => {
    const box = h("textarea", { rows: 2, name: `${key}.${index}.text`, id: uid("edit") }, item.text);
    const label = `${heading}: ${key === "cues" ? "cue" : "segment"} ${index + 1}, ${span(item)}`;
    return { box, label };
  });
  const rows = items.map((item, index) =>
    h(
      "div",
      { class: "review-row" },
      h("p", { class: "muted small review-time" }, span(item)),
      item.source !== undefined ? h("p", { class: "review-source", lang: document.source_language }, item.source) : null,
      h(
        "div",
        { class: "review-edit" },
        h("label", { for: boxes[index].box.id, class: "visually-hidden" }, boxes[index].label),
        boxes[index].box,
      ),
    ),
  );
  const save = h("button", { type: "submit", class: "primary" }, `Save ${heading}`);
  const form = h(
    "form",
    { class: "card review", "aria-label": heading },
    h("h2", {}, heading),
    sourceLabel ? h("div", { class: "review-columns muted small", "aria-hidden": "true" }, h("span", {}, "Time"), h("span", {}, sourceLabel), h("span", {}, "Your text")) : null,
    rows,
    message,
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    const edited = { ...document, [key]: items.map((item, index) => ({ ...item, text: boxes[index].box.value })) };
    save.disabled = true;
    try {
      const changed = await api(`/v1/runs/${encodeURIComponent(runId)}/artifacts/${artifact.name}`, {
        method: "PUT",
        json: edited,
      });
      message.show(`Saved: ${changed.map((a) => a.name).join(", ")}.`, "success");
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.message);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

export async function render(main, { params, signal }) {
  const id = encodeURIComponent(params.id);
  const run = await api(`/v1/runs/${id}`, { signal });
  setTitle("Review");
  const crumbs = h("p", { class: "crumbs" }, h("a", { href: `/runs/${id}` }, "Run"), " / ");
  const component = run.status === "awaiting_review" ? awaited(run) : undefined;
  if (!component) {
    main.append(
      crumbs,
      h("h1", {}, "Nothing to review"),
      h(
        "p",
        { class: "notice" },
        run.status === "awaiting_review"
          ? "This run waits, but what it waits for is not done; open the run to see where it is."
          : `This run is not waiting for a review (it is ${run.status.replaceAll("_", " ")}). A run stops for one when it is started with "Stop for review after".`,
      ),
      h("a", { href: `/runs/${id}`, class: "button" }, "Open the run"),
    );
    return;
  }
  const artifacts = await api(`/v1/runs/${id}/artifacts`, { signal });
  const editable =
    component === "transcribe"
      ? artifacts.filter((a) => a.name === "transcript.json")
      : artifacts.filter((a) => TRANSLATION.test(a.name));
  const documents = await Promise.all(editable.map((artifact) => documentOf(artifact, signal)));
  const outcome = messageArea();
  const forms = editable.map((artifact, index) => {
    const document = documents[index];
    const language = artifact.name.match(TRANSLATION)?.[1];
    return component === "transcribe"
      ? editor({ runId: run.id, artifact, document, key: "segments", heading: "Transcript" })
      : editor({
          runId: run.id,
          artifact,
          document,
          key: "cues",
          heading: `Translation into ${language}`,
          sourceLabel: `Original (${document.source_language})`,
        });
  });
  const resume = h("button", { type: "button", class: "primary" }, "Go on with the run");
  resume.addEventListener("click", async () => {
    outcome.clear();
    resume.disabled = true;
    try {
      await api(`/v1/runs/${id}/resume`, { method: "POST" });
      await navigate(`/runs/${id}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      outcome.show(error.message);
      resume.disabled = false;
    }
  });
  main.append(
    crumbs,
    h("h1", {}, component === "transcribe" ? "Review the transcript" : "Review the translations"),
    h(
      "p",
      { class: "hint" },
      "Correct the words; each line keeps its time. Save each part you change, then go on: everything the run does next uses your text.",
    ),
    ...forms,
    h("div", { class: "card actions" }, outcome, resume, h("a", { href: `/runs/${id}`, class: "button" }, "Back to the run")),
  );
}
