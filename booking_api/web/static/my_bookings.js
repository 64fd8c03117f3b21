// The calendar of my bookings (FullCalendar, vendored): month, week and list views, events from
// the page's JSON route (same-origin, the browser session's cookie).
document.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("calendar");
  if (!el || !window.FullCalendar) return;
  var calendar = new FullCalendar.Calendar(el, {
    locale: el.dataset.locale,
    initialView: "dayGridMonth",
    headerToolbar: { left: "prev,next today", center: "title", right: "dayGridMonth,timeGridWeek,listMonth" },
    events: el.dataset.events,
    height: "auto",
    nowIndicator: true,
  });
  calendar.render();
});
