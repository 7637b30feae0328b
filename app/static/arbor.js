/* Arbor: small progressive enhancements. Every page works without this file (the CSP allows only 'self' scripts). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  ready(function () {
    // On wide screens the main menu stays open, so its links sit in the top bar (the CSS hides its summary).
    var menu = document.getElementById("main-menu");
    if (menu && window.matchMedia) {
      var wide = window.matchMedia("(min-width: 60rem)");
      var sync = function () { menu.open = wide.matches; };
      sync();
      if (wide.addEventListener) { wide.addEventListener("change", sync); } else if (wide.addListener) { wide.addListener(sync); }
    }

    // Drop-down panels close on a click elsewhere or on Escape, like the menus people know.
    function closeOthers(except) {
      var open = document.querySelectorAll("details.dropdown[open]");
      for (var i = 0; i < open.length; i++) {
        var d = open[i];
        if (d === except || (d === menu && window.matchMedia && window.matchMedia("(min-width: 60rem)").matches)) { continue; }
        d.open = false;
      }
    }
    document.addEventListener("click", function (e) {
      var inside = e.target.closest ? e.target.closest("details.dropdown") : null;
      closeOthers(inside);
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") {
        var current = document.activeElement && document.activeElement.closest ? document.activeElement.closest("details.dropdown[open]") : null;
        closeOthers(null);
        if (current) { var s = current.querySelector("summary"); if (s) { s.focus(); } }
      }
    });
  });
})();
