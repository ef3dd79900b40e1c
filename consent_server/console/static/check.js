/* The check page, where scripts run: the upload's progress, then the checked file offered
   without leaving the page, with its counts. Without it the form posts as usual and the browser downloads. */
(function () {
  "use strict";
  var form = document.getElementById("check-form");
  if (!form || !window.XMLHttpRequest || !window.FormData || !window.URL) {
    return;
  }
  var progress = document.getElementById("check-progress");
  var status = document.getElementById("check-status");
  var link = document.getElementById("check-result");
  var summary = document.getElementById("check-summary");
  var busy = false;

  /* The counts from the answer's Consent-Check-Summary header ("checked=4, allowed=1, ..."),
     each under its label in the page's language. */
  function show(header) {
    var labels = JSON.parse(summary.dataset.labels);
    var list = summary.querySelector("dl");
    list.textContent = "";
    (header || "").split(",").forEach(function (part) {
      var pair = part.trim().split("=");
      if (pair.length !== 2) {
        return;
      }
      var term = document.createElement("dt");
      var count = document.createElement("dd");
      term.textContent = labels[pair[0]] || pair[0];
      count.textContent = pair[1];
      count.dataset.key = pair[0];
      list.appendChild(term);
      list.appendChild(count);
    });
    summary.hidden = !list.firstChild;
  }

  function say(text, percent) {
    status.textContent = percent === undefined ? text : text + " " + percent + " %";
  }

  form.addEventListener("submit", function (event) {
    if (busy) {
      event.preventDefault();
      return;
    }
    event.preventDefault();
    busy = true;
    link.hidden = true;
    summary.hidden = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.responseType = "blob";
    progress.hidden = false;
    progress.value = 0;
    say(progress.dataset.uploading, 0);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.round(e.loaded / e.total * 100);
        progress.value = percent;
        say(progress.dataset.uploading, percent);
      }
    });
    xhr.upload.addEventListener("load", function () {
      progress.removeAttribute("value"); /* indeterminate while the server checks */
      say(progress.dataset.checking);
    });
    xhr.addEventListener("load", function () {
      busy = false;
      progress.hidden = true;
      if (xhr.status !== 200) {
        form.submit(); /* the server's page says what is wrong with the file */
        return;
      }
      var name = /filename="([^"]+)"/.exec(xhr.getResponseHeader("Content-Disposition") || "");
      link.href = URL.createObjectURL(xhr.response);
      link.download = name ? name[1] : "checked.csv";
      link.hidden = false;
      say(progress.dataset.done);
      show(xhr.getResponseHeader("Consent-Check-Summary"));
      link.click();
    });
    xhr.addEventListener("error", function () {
      busy = false;
      form.submit();
    });
    xhr.send(new FormData(form));
  });
}());
