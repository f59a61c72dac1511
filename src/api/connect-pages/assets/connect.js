// Hosted Connect: the little the pages need a script for. Everything works without it, more slowly.
(function () {
  'use strict';
  var body = document.body;
  var data = body.dataset;

  // The end of the flow: tell the app's window that opened (or frames) this one, to the redirect URI's origin
  // only; otherwise go back to the redirect URI.
  if (data.done === 'true') {
    var payload = data.payload ? JSON.parse(data.payload) : null;
    var target = window.opener || (window.parent !== window ? window.parent : null);
    if (target && payload && data.messageOrigin) {
      target.postMessage(payload, data.messageOrigin);
    } else if (data.returnUrl) {
      setTimeout(function () {
        window.location.assign(data.returnUrl);
      }, 1200);
    }
    return;
  }

  // While a job runs: follow it, reload when something changed, go to the bank when it sends the user there.
  if (data.redirectUrl) {
    window.location.assign(data.redirectUrl);
    return;
  }
  if (data.statusUrl) {
    // Once the user has sent a form (a challenge's answer, Cancel), the page that answers it is on its way: a poll
    // that saw the change that same answer made would reload this page and cut that navigation short.
    var leaving = false;
    document.addEventListener('submit', function () {
      leaving = true;
    });
    var poll = function () {
      if (leaving) return;
      fetch(data.statusUrl, { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (s) {
          if (leaving) return;
          if (!s) return setTimeout(poll, 2000);
          if (s.redirectUrl) return window.location.assign(s.redirectUrl);
          if (s.version !== data.version) return window.location.reload();
          setTimeout(poll, 1000);
        })
        .catch(function () {
          setTimeout(poll, 2000);
        });
    };
    setTimeout(poll, 700);
    // Back to this page from the browser's history: follow the job again.
    window.addEventListener('pageshow', function (e) {
      if (e.persisted && leaving) {
        leaving = false;
        setTimeout(poll, 700);
      }
    });
  }
})();
