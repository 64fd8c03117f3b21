// The statistics dashboard's two charts, from the JSON the page embeds (#stats-data): amounts in
// yuan by month (issued, used, redeemed, lapsed) and by owner unit (redeemed, approved, rejected).
(function () {
  var el = document.getElementById("stats-data");
  if (!el || typeof Chart === "undefined") return;
  var d = JSON.parse(el.textContent);
  var colours = ["#3b6ea5", "#2e7d32", "#ef6c00", "#9e9e9e"];
  function sets(series) {
    return series.map(function (s, i) {
      return { label: s.label, data: s.data, backgroundColor: colours[i % colours.length] };
    });
  }
  var yuan = { ticks: { callback: function (v) { return "¥" + Number(v).toLocaleString(); } } };
  new Chart(document.getElementById("chart-months"), {
    type: "bar",
    data: { labels: d.months, datasets: sets(d.series) },
    options: { animation: false, responsive: true, scales: { y: yuan } },
  });
  new Chart(document.getElementById("chart-units"), {
    type: "bar",
    data: { labels: d.units, datasets: sets(d.unit_series) },
    options: { animation: false, responsive: true, indexAxis: "y", scales: { x: yuan } },
  });
})();
