// Keeps pages fresh from the server's pushed events: the jobs table reloads its rows when told a job changed
// (GET /jobs/changes); a queued or running job follows its own (GET /api/jobs/ID/events), the stream
// `aigc jobs wait` reads.
// No other script runs in the pages; everything else is server-rendered HTML.
(function () {
  "use strict";
  var FINISHED = { succeeded: true, failed: true, cancelled: true };

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

  // Reload the table's rows when the server says one of the newest jobs changed (at most every 500 ms).
  function liveRows(tbody) {
    var source = new EventSource(tbody.dataset.liveEvents, { withCredentials: true });
    var busy = false, again = false;
    function reload() {
      if (busy) { again = true; return; }
      busy = true;
      get(tbody.dataset.live, "text/html").then(function (response) {
        return response.ok ? response.text().then(function (html) { tbody.innerHTML = html; }) : null;
      }).catch(function () {}).then(function () {
        setTimeout(function () { busy = false; if (again) { again = false; reload(); } }, 500);
      });
    }
    source.addEventListener("jobs", reload);
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
