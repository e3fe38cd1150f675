// The follow-up visit page (/m/visits/<number>/): the phone's position into
// the record form's lng, lat and accuracy (WGS-84, as browsers give it), at
// load and on "use my position". Sending is the outbox's (outbox.js).
(() => {
  const form = document.getElementById("visit-form");
  if (!form) return;
  const $ = (name) => form.querySelector(`[data-v="${name}"]`);
  const node = document.getElementById("visit-messages");
  const T = node ? JSON.parse(node.textContent) : {};
  function locate() {
    if (!navigator.geolocation) { $("pos").textContent = T.noGeo || ""; return; }
    $("pos").textContent = T.locating || "";
    navigator.geolocation.getCurrentPosition((pos) => {
      $("lng").value = pos.coords.longitude.toFixed(6);
      $("lat").value = pos.coords.latitude.toFixed(6);
      $("accuracy").value = Math.round(pos.coords.accuracy);
      $("pos").textContent = `${$("lng").value}, ${$("lat").value} · ` +
        (T.accuracy || "± %(m)s m").replace("%(m)s", Math.round(pos.coords.accuracy));
    }, () => { $("pos").textContent = T.noGeo || ""; },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }
  $("locate").addEventListener("click", locate);
  locate();
})();
