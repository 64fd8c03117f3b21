// The lab manager's opening-hours preview: eight weeks of FullCalendar's day grid fed by
// /unit/instruments/{id}/hours/preview.json — open hours, public holidays and 调休 make-up
// workdays (background), closures and extra openings. Times are the instrument's wall clock
// (the page names its zone): the calendar runs in UTC and gets wall times without an offset.
(function () {
  "use strict";
  var el = document.getElementById("preview");
  if (!el || !window.FullCalendar) return;
  var calendar = new FullCalendar.Calendar(el, {
    initialView: "eightWeeks",
    views: { eightWeeks: { type: "dayGrid", duration: { weeks: 8 } } },
    initialDate: el.dataset.start,
    firstDay: 1,
    timeZone: "UTC",
    locale: el.dataset.lang === "zh-CN" ? "zh-cn" : "en",
    height: "auto",
    headerToolbar: false,
    dayMaxEvents: 3,
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    displayEventEnd: true,
    events: function (info, success, failure) {
      fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) { success(data.events); el.dataset.loaded = "1"; })
        .catch(function (e) { failure(e); });
    },
  });
  calendar.render();
})();
