// The demo shop's own script: a panel of what has run and what Consent Mode received.
(function () {
  var ran = {};
  var dl = (window.dataLayer = window.dataLayer || []);
  var push = dl.push;
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = value;
  }
  function render() {
    var panel = document.getElementById('panel');
    if (!panel) return;
    panel.querySelectorAll('[data-status]').forEach(function (el) {
      var done = ran[el.getAttribute('data-status')];
      el.textContent = done ? panel.getAttribute('data-ran') : panel.getAttribute('data-waiting');
      el.className = done ? 'ran' : '';
    });
    var list = document.getElementById('consent-mode');
    list.textContent = '';
    dl.forEach(function (entry) {
      if (entry && entry[0] === 'consent') {
        var li = document.createElement('li');
        li.textContent = entry[1] + ' ' + JSON.stringify(entry[2]);
        list.appendChild(li);
      }
    });
    var choice = window.ConsentServer && window.ConsentServer.get();
    text('choice', choice ? JSON.stringify(choice) : panel.getAttribute('data-none'));
    text('cookies', document.cookie || '–');
  }
  // Every dataLayer.push (Consent Mode's gtag() calls included) updates the panel.
  dl.push = function () {
    var result = push.apply(dl, arguments);
    setTimeout(render);
    return result;
  };
  window.demoRan = function (what) {
    ran[what] = true;
    setTimeout(render);
  };
  document.addEventListener('consent:change', function () { setTimeout(render); });
  document.addEventListener('DOMContentLoaded', render);
})();
