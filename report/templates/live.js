// playbook watch's live page: follows the server's events and updates the
// page in place. Only the live page carries this script (its nonce allows
// it); every piece of HTML it inserts was rendered, escaped, by playbook.
(function () {
  "use strict";
  var es = new EventSource("/events");
  function data(e) { return JSON.parse(e.data); }
  function banner(text, cls) {
    var b = document.getElementById("live-status");
    if (!b) { return; }
    b.textContent = text;
    b.className = "live-status " + (cls || "");
  }
  function current(id) {
    document.querySelectorAll("article.cell.current").forEach(function (a) { a.classList.remove("current"); });
    var a = id && document.getElementById(id);
    if (a) {
      a.classList.add("current");
      a.scrollIntoView({ block: "nearest" });
    }
  }
  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html;
    return t.content.firstElementChild;
  }
  function reveal(id) {
    var a = id && document.getElementById(id);
    if (!a) { return; }
    var err = a.querySelector(".err") || a;
    a.scrollIntoView({ block: "start" });
    err.scrollIntoView({ block: "center" });
  }
  es.addEventListener("run", function (e) {
    var d = data(e);
    document.querySelectorAll("article.cell").forEach(function (a) { a.classList.add("pending"); });
    banner(d.text, "running");
  });
  es.addEventListener("current", function (e) {
    var d = data(e);
    current(d.id);
    banner(d.text, "running");
  });
  es.addEventListener("cell", function (e) {
    var d = data(e);
    var old = document.getElementById(d.id);
    var next = fragment(d.html);
    if (!next) { return; }
    if (old) { old.replaceWith(next); }
    if (d.failed) { reveal(d.id); }
  });
  es.addEventListener("page", function (e) {
    var d = data(e);
    var doc = new DOMParser().parseFromString(d.html, "text/html");
    var y = window.scrollY;
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    window.scrollTo(0, y);
    if (d.failed) { reveal(d.failed); }
    document.documentElement.dataset.run = d.run;
  });
  es.addEventListener("problem", function (e) {
    var d = data(e);
    banner(d.text, "fail");
    if (d.failed) { reveal(d.failed); }
  });
  es.onerror = function () { banner("playbook watch: connection lost, trying again…", "fail"); };
}());
