// The system at a glance, for administrators (users.is_admin; `kadr admin grant EMAIL`): queue
// lengths, workers with their last heartbeat, and dead jobs with their error, to queue again
// or set aside. Anyone else gets the 404 page: the admin API answers them 404.

import { ApiError, api } from "../api.js";
import { formatDate, h, messageArea, setTitle } from "../ui.js";

function table(caption, headings, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "admin-table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

export async function render(main, { signal }) {
  setTitle("Admin");
  const [queues, workers, dead] = await Promise.all([
    api("/v1/admin/queues", { signal }),
    api("/v1/admin/workers", { signal }),
    api("/v1/admin/jobs/dead?limit=100", { signal }),
  ]);
  const message = messageArea();
  const deadCard = h("section", { class: "card", "aria-labelledby": "dead-heading" });

  async function act(job, action) {
    try {
      await api(`/v1/admin/jobs/${encodeURIComponent(job.id)}/${action}`, { method: "POST" });
      message.show(action === "requeue" ? `Job ${job.id} is queued again.` : `Job ${job.id} was discarded.`, "notice");
      drawDead(await api("/v1/admin/jobs/dead?limit=100"));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.message);
    }
  }

  function drawDead(page) {
    const rows = page.items.map((job) =>
      h(
        "tr",
        { "data-job": job.id },
        h("td", {}, h("strong", {}, job.kind), h("br"), h("span", { class: "muted small" }, job.id)),
        h("td", {}, job.queue),
        h("td", {}, `${job.attempts} of ${job.max_attempts}`),
        h("td", { class: "error-text" }, job.last_error || "no error was recorded"),
        h("td", {}, formatDate(job.updated_at)),
        h(
          "td",
          { class: "row-actions" },
          h("button", { type: "button", onclick: () => act(job, "requeue"), "aria-label": `Requeue ${job.kind} ${job.id}` }, "Requeue"),
          h("button", { type: "button", class: "danger", onclick: () => act(job, "discard"), "aria-label": `Discard ${job.kind} ${job.id}` }, "Discard"),
        ),
      ),
    );
    deadCard.replaceChildren(
      h("h2", { id: "dead-heading" }, `Dead jobs (${page.total})`),
      h("p", { class: "hint" }, "Jobs that failed on every attempt. Requeue gives one a new round of attempts; discard sets it aside for good."),
      message,
      table("Dead jobs", ["Job", "Queue", "Attempts", "Last error", "Died", "Actions"], rows, "No dead jobs: everything that failed was retried or succeeded."),
    );
  }

  main.append(
    h("h1", {}, "Admin"),
    h(
      "section",
      { class: "card", "aria-labelledby": "queues-heading" },
      h("h2", { id: "queues-heading" }, "Queues"),
      table(
        "Queues",
        ["Queue", "Waiting", "Running", "Dead"],
        queues.map((queue) => h("tr", { "data-queue": queue.queue }, h("th", { scope: "row" }, queue.queue), h("td", {}, String(queue.queued)), h("td", {}, String(queue.running)), h("td", {}, String(queue.dead)))),
        "No queues are configured.",
      ),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "workers-heading" },
      h("h2", { id: "workers-heading" }, "Workers"),
      table(
        "Workers",
        ["Worker", "State", "Running jobs", "Last heartbeat"],
        workers.map((worker) =>
          h(
            "tr",
            {},
            h("td", {}, worker.worker_id),
            h("td", {}, h("span", { class: `badge badge-${worker.alive ? "succeeded" : "failed"}` }, worker.alive ? "Alive" : "Gone")),
            h("td", {}, String(worker.running_jobs)),
            h("td", {}, worker.last_heartbeat_at ? formatDate(worker.last_heartbeat_at) : "idle (no job leased)"),
          ),
        ),
        "No worker is running: start one with `kadr worker` (or `kadr up`).",
      ),
    ),
    deadCard,
  );
  drawDead(dead);
}
