// The instrument page's week calendar: FullCalendar's timeGridWeek fed by
// /instruments/{id}/bookable.json (the same bookable time as the list under it). Times are the
// instrument's wall clock (the page names its zone), shown as they are in any browser: the
// calendar runs in UTC and is given local wall times without an offset.
(function () {
  "use strict";
  var el = document.getElementById("calendar");
  if (!el || !window.FullCalendar) return;
  var week = el.dataset.week;
  var firstDay = new Date(week + "T00:00:00Z").getUTCDay();
  var calendar = new FullCalendar.Calendar(el, {
    initialView: "timeGridWeek",
    initialDate: week,
    firstDay: firstDay,
    timeZone: "UTC",
    locale: el.dataset.lang === "zh-CN" ? "zh-cn" : "en",
    allDaySlot: false,
    height: "auto",
    slotMinTime: el.dataset.min,
    slotMaxTime: el.dataset.max,
    slotDuration: "00:30:00",
    nowIndicator: false,
    headerToolbar: false, // the page's own week links move the calendar and the list together
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    displayEventEnd: false, // an event marks where a booking may start, not how long it lasts
    events: function (info, success, failure) {
      var url = new URL(el.dataset.src, window.location.origin);
      url.searchParams.delete("week");
      url.searchParams.set("start", info.startStr.slice(0, 10));
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (data) {
          var events = data.closed.map(function (c) {
            return { start: c.local_start, end: c.local_end, title: c.label, display: "background",
                     classNames: ["closed-" + c.reason] };
          });
          data.slots.forEach(function (s) {
            var end = new Date(s.local_start + "Z");
            end.setUTCMinutes(end.getUTCMinutes() + Math.min(data.slot_minutes || 30, data.duration_minutes));
            events.push({ start: s.local_start, end: end.toISOString().slice(0, 19), url: s.url,
                          title: el.dataset.bookable, classNames: ["bookable"] });
          });
          success(events);
        })
        .catch(failure);
    },
    eventDidMount: function (info) {
      if (info.event.url) {
        info.el.setAttribute("data-testid", "calendar-slot");
        info.el.setAttribute("data-start", info.event.startStr.slice(0, 16));
      }
    }
  });
  calendar.render();
})();
