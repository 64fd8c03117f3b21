// The lab manager's utilisation charts (/unit/usage): the page puts the figures and their
// translated labels in #usage-chart-data; Chart.js (vendored) draws three bar charts.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("usage-chart-data");
    if (!source || typeof Chart === "undefined") return;
    var d = JSON.parse(source.textContent);
    var common = { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } };
    new Chart(document.getElementById("chart-hours"), {
      type: "bar",
      data: {
        labels: d.labels,
        datasets: [
          { label: d.words.effective, data: d.effective, backgroundColor: "#1e7b34" },
          { label: d.words.quota, data: d.quota, backgroundColor: "rgba(108, 117, 125, .35)" }
        ]
      },
      options: common
    });
    new Chart(document.getElementById("chart-sharing"), {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: d.words.sharing, data: d.sharing, backgroundColor: "#0172ad" }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, max: 100 } } }
    });
    new Chart(document.getElementById("chart-users"), {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: d.words.external_users, data: d.external_users, backgroundColor: "#b3261e" }] },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
