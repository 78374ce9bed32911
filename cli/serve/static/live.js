// Keeps pages fresh: the jobs table polled every 2 s; a queued or running job follows the server's pushed
// events (GET /api/jobs/ID/events), the same stream `aigc jobs wait` reads.
// No other script runs in the pages; everything else is server-rendered HTML.
(function () {
  "use strict";
  var FINISHED = { succeeded: true, failed: true, cancelled: true };

  // Run `step` every `ms` while the tab is visible; stop when it returns false.
  function every(ms, step) {
    function tick() {
      var next = document.hidden ? Promise.resolve(true) : step().catch(function () { return true; });
      next.then(function (goOn) { if (goOn !== false) setTimeout(tick, ms); });
    }
    setTimeout(tick, ms);
  }

  function get(url, accept) {
    return fetch(url, { headers: { Accept: accept }, credentials: "same-origin", cache: "no-store" });
  }

  function info(values) {
    var parts = [];
    if (values && values.done !== undefined && values.total !== undefined) parts.push(values.done + "/" + values.total);
    Object.keys(values || {}).forEach(function (key) {
      if (key === "done" || key === "total") return;
      var v = values[key];
      parts.push(key + " " + (typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(4) : v));
    });
    return parts.join("  ");
  }

  function liveRows(tbody) {
    every(Number(tbody.dataset.interval) || 2000, function () {
      return get(tbody.dataset.live, "text/html").then(function (response) {
        if (!response.ok) return true;
        return response.text().then(function (html) { tbody.innerHTML = html; return true; });
      });
    });
  }

  function liveJob(section) {
    var source = new EventSource(section.dataset.jobLive, { withCredentials: true });
    source.addEventListener("job", function (event) {
      var job = JSON.parse(event.data);
      document.getElementById("live-progress").value = job.progress;
      document.getElementById("live-percent").textContent = Math.round(job.progress * 100) + "%";
      document.getElementById("live-info").textContent = info(job.progress_info);
      if (FINISHED[job.status]) { source.close(); window.location.reload(); return; }
      document.querySelectorAll("h1 [data-status]").forEach(function (badge) {
        badge.textContent = job.status;
        badge.dataset.status = job.status;
        badge.className = "status status-" + job.status;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(liveRows);
    document.querySelectorAll("[data-job-live]").forEach(liveJob);
  });
})();
