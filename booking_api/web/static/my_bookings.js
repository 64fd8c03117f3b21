// The calendar of my bookings (FullCalendar, vendored): month, week and list views, events from
// the page's JSON route (same-origin, the browser session's cookie).
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("calendar");
  if (!el || !window.FullCalendar) return;
  // Accessibility touch-ups FullCalendar leaves (axe): the toolbar's chevrons are decoration (the
  // buttons are named by their titles), and a day cell holding events is named by its content,
  // not by its date number alone.
  function tidy() {
    el.querySelectorAll(".fc-icon[role=img]").forEach(function (icon) {
      icon.removeAttribute("role");
      icon.setAttribute("aria-hidden", "true");
    });
    el.querySelectorAll("td[role=gridcell][aria-labelledby]").forEach(function (cell) {
      if (cell.querySelector(".fc-event")) cell.removeAttribute("aria-labelledby");
    });
  }
  var calendar = new FullCalendar.Calendar(el, {
    locale: el.dataset.locale,
    timeZone: "UTC", // events come as the instruments' wall-clock times: show them as they are
    initialView: "dayGridMonth",
    headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listMonth" },
    events: el.dataset.events,
    height: "auto",
    nowIndicator: true,
    datesSet: tidy,
    eventsSet: function () { setTimeout(tidy, 0); },
  });
  calendar.render();
});
