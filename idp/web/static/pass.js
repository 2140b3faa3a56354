// My Campus ID: renews each pass's QR code without reloading the page (GET /account/pass).
// A pass whose grant is gone (or whose session ended) hides its code and says so.
(function () {
  "use strict";
  var section = document.getElementById("passes");
  if (!section || !window.fetch) {
    return;
  }
  var every = (Number(section.getAttribute("data-renew-s")) || 60) * 1000;

  function show(item, fresh) {
    var image = item.querySelector("img.qr");
    var note = item.querySelector(".unavailable");
    if (fresh) {
      image.src = fresh.qr;
      image.setAttribute("data-pass", fresh.text);
      item.querySelector(".until").textContent = fresh.until;
    }
    image.hidden = !fresh;
    note.hidden = !!fresh;
  }

  function renew() {
    fetch("/account/pass", {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) {
        if (answer.status === 401) {  // the session ended: no pass any more
          return {passes: []};
        }
        if (!answer.ok) {
          throw new Error("HTTP " + answer.status);
        }
        return answer.json();
      })
      .then(function (body) {
        var fresh = {};
        body.passes.forEach(function (item) { fresh[item.resource] = item; });
        section.querySelectorAll("li.pass").forEach(function (item) {
          show(item, fresh[item.getAttribute("data-resource")] || null);
        });
      })
      .catch(function () {
        // The network is down for a moment: the codes shown stay valid until their expiry.
      });
  }

  window.setInterval(renew, every);
  // A phone taken out of a pocket: the page shows a fresh code at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      renew();
    }
  });
})();
