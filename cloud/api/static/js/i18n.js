// Every user-visible string of the dashboard, in Indonesian (default) and English.
// Markup uses data-i18n="key" (text), data-i18n-placeholder, data-i18n-aria-label and
// data-i18n-title; scripts call t("key", {name: value}).
const LANG_KEY = "salinmas.lang";

export const STRINGS = {
  id: {
    "app.name": "Salinmas",
    "app.operator": "Dasbor operator",
    "app.household": "Tabungan sampah",
    "app.collector": "Penjemputan hari ini",
    "skip": "Lewati ke konten",
    "lang.toggle": "English",
    "lang.toggle.aria": "Ganti bahasa ke English",
    "logout": "Keluar",
    "refresh": "Muat ulang",
    "live.open": "Langsung",
    "live.connecting": "Menyambung…",
    "live.error": "Terputus",
    "live.off": "Luring",

    "login.title": "Masuk",
    "login.username": "Nama pengguna",
    "login.password": "Kata sandi",
    "login.member": "Nomor anggota",
    "login.pin": "PIN",
    "login.submit": "Masuk",
    "login.busy": "Sedang masuk…",
    "login.household.intro": "Masuk dengan nomor anggota dan PIN Anda.",
    "login.collector.intro": "Masuk dengan akun petugas penjemputan.",
    "login.operator.intro": "Masuk dengan akun operator bank sampah.",
    "login.wrongrole": "Akun ini tidak dapat membuka halaman ini.",

    "nav.overview": "Ringkasan",
    "nav.pickups": "Penjemputan",
    "nav.charts": "Grafik",
    "nav.households": "Nasabah",
    "nav.devices": "Perangkat",

    "kpi.bins_full": "Tong penuh",
    "kpi.devices_online": "Perangkat daring",
    "kpi.open_pickups": "Penjemputan terbuka",
    "kpi.today_kg": "Ditimbang hari ini",
    "kpi.today_rp": "Nilai setoran hari ini",

    "bins.title": "Tong sampah",
    "bins.map": "Peta tong",
    "bins.list": "Daftar tong",
    "bins.none": "Belum ada tong terdaftar.",
    "bins.noloc": "Tong tanpa lokasi tidak digambar.",
    "bins.fill": "Isi",
    "bins.fault": "Sensor rusak",
    "bins.legend.low": "< 50 %",
    "bins.legend.mid": "50–79 %",
    "bins.legend.high": "80–94 %",
    "bins.legend.full": "≥ 95 %",
    "bins.legend.unknown": "tidak diketahui",

    "feed.title": "Penimbangan langsung",
    "feed.none": "Belum ada penimbangan.",
    "feed.time": "Waktu",
    "feed.station": "Stasiun",
    "feed.household": "Nasabah",
    "feed.category": "Jenis",
    "feed.weight": "Berat",
    "feed.amount": "Rupiah",
    "feed.unassigned": "kartu tak dikenal",

    "alerts.title": "Peringatan",
    "alerts.none": "Tidak ada peringatan.",
    "alerts.ack": "Tandai dibaca",
    "alerts.acked": "Dibaca {who}",
    "alerts.kind.bin_full": "Tong penuh",
    "alerts.kind.sensor_fault": "Sensor rusak",
    "alerts.kind.device_offline": "Perangkat luring",
    "alerts.kind.dead_letter": "Pesan ditolak",
    "alerts.kind.lid_open": "Tutup terbuka",
    "alerts.kind.tilt": "Tong miring",
    "alerts.msg.bin_full": "Terisi {pct}, perlu dijemput",
    "alerts.msg.sensor_fault": "Sensor isi: {fault}",
    "alerts.msg.device_offline": "Terakhir terdengar {when}",
    "fault.no_echo": "tidak ada pantulan",
    "fault.out_of_range": "di luar jangkauan",
    "fault.unstable": "bacaan tidak stabil",
    "fault.hardware": "kerusakan perangkat",

    "devices.title": "Perangkat",
    "devices.none": "Belum ada perangkat.",
    "devices.online": "daring",
    "devices.offline": "luring",
    "devices.revoked": "dicabut",
    "devices.lastseen": "Terakhir terlihat",
    "devices.version": "Versi",
    "devices.outbox": "Antrean",
    "devices.kind.station": "Stasiun timbang",
    "devices.kind.bin": "Sensor tong",

    "deadletters.title": "Pesan ditolak",
    "deadletters.none": "Tidak ada pesan ditolak.",

    "pickups.title": "Papan penjemputan",
    "pickups.open": "Terbuka",
    "pickups.assigned": "Ditugaskan",
    "pickups.done": "Selesai hari ini",
    "pickups.none": "Tidak ada.",
    "pickups.due": "Jatuh tempo {when}",
    "pickups.overdue": "Terlambat",
    "pickups.kind.bin_full": "Tong penuh",
    "pickups.kind.household": "Permintaan nasabah",
    "pickups.kind.manual": "Manual",
    "pickups.collector": "Petugas",
    "pickups.choose": "Pilih petugas…",
    "pickups.assign": "Tugaskan",
    "pickups.assigned_to": "Petugas: {name}",
    "pickups.weight": "Berat terkumpul (kg)",
    "pickups.complete": "Selesai",
    "pickups.completed": "Selesai {when}, {kg}",
    "pickups.fill_at_open": "Isi saat dibuka: {pct}",
    "pickups.forecast": "Perkiraan penuh {when}",
    "pickups.assigned_ok": "Penjemputan ditugaskan.",
    "pickups.completed_ok": "Penjemputan selesai.",
    "pickups.weight_invalid": "Masukkan berat dalam kg, misalnya 2,5.",

    "charts.title": "Grafik",
    "charts.fill": "Riwayat isi tong",
    "charts.bin": "Tong",
    "charts.period": "Periode",
    "charts.h1": "1 jam",
    "charts.h24": "24 jam",
    "charts.d7": "7 hari",
    "charts.d30": "30 hari",
    "charts.perday": "Kg dan rupiah per jenis per hari",
    "charts.kg": "kg",
    "charts.rp": "Rupiah",
    "charts.nodata": "Belum ada data untuk periode ini.",
    "charts.threshold": "Ambang {pct}",
    "charts.category": "Jenis",
    "charts.all": "Semua jenis",

    "hh.title": "Cari nasabah",
    "hh.search": "Nomor anggota atau nama",
    "hh.find": "Cari",
    "hh.none": "Tidak ditemukan.",
    "hh.balance": "Saldo",
    "hh.available": "Tersedia",
    "hh.statement": "Mutasi",
    "hh.payouts": "Penarikan",
    "hh.payout.request": "Ajukan penarikan",
    "hh.payout.amount": "Jumlah (Rp)",
    "hh.payout.approve": "Setujui",
    "hh.payout.reject": "Tolak",
    "hh.payout.pay": "Bayarkan",
    "hh.payout.none": "Belum ada penarikan.",
    "hh.payout.ok": "Penarikan diperbarui.",
    "hh.payout.status.requested": "diajukan",
    "hh.payout.status.approved": "disetujui",
    "hh.payout.status.paid": "dibayar",
    "hh.payout.status.rejected": "ditolak",
    "hh.payout.status.cancelled": "dibatalkan",
    "hh.member": "No. anggota",
    "hh.name": "Nama",
    "hh.address": "Alamat",
    "hh.phone": "Telepon",

    "stmt.none": "Belum ada transaksi.",
    "stmt.date": "Tanggal",
    "stmt.desc": "Keterangan",
    "stmt.amount": "Jumlah",
    "stmt.balance": "Saldo",
    "stmt.kind.weighin_credit": "Setoran sampah",
    "stmt.kind.reversal": "Koreksi",
    "stmt.kind.payout": "Penarikan tunai",
    "stmt.kind.adjustment": "Penyesuaian",

    "home.hello": "Halo, {name}",
    "home.balance": "Saldo tabungan Anda",
    "home.request": "Minta jemput plastik",
    "home.request.note": "Catatan untuk petugas (opsional)",
    "home.request.send": "Kirim permintaan",
    "home.request.ok": "Permintaan terkirim. Petugas akan datang.",
    "home.request.open": "Permintaan penjemputan Anda",
    "home.request.status.open": "menunggu petugas",
    "home.request.status.assigned": "petugas ditugaskan",
    "home.request.status.done": "selesai",
    "home.request.status.cancelled": "dibatalkan",
    "home.statement": "Riwayat tabungan",

    "col.today": "Daftar jemput",
    "col.none": "Tidak ada penjemputan untuk Anda hari ini.",
    "col.address": "Alamat",
    "col.done_list": "Sudah selesai",
    "col.weight": "Berat (kg)",
    "col.mark_done": "Tandai selesai",
    "col.order_note": "Urut: terlambat dulu, lalu jatuh tempo terdekat dan prioritas.",
    "col.bin": "Tong {id}",

    "err.login": "Nomor/nama atau kata sandi salah, atau sesi berakhir.",
    "err.throttled": "Terlalu banyak percobaan. Coba lagi sebentar lagi.",
    "err.network": "Tidak dapat menghubungi server.",
    "err.generic": "Terjadi kesalahan.",
    "err.forbidden": "Anda tidak berhak melakukan ini.",

    "unknown": "tidak diketahui",
  },
  en: {
    "app.name": "Salinmas",
    "app.operator": "Operator dashboard",
    "app.household": "Waste savings",
    "app.collector": "Today's pickups",
    "skip": "Skip to content",
    "lang.toggle": "Bahasa Indonesia",
    "lang.toggle.aria": "Switch language to Bahasa Indonesia",
    "logout": "Log out",
    "refresh": "Refresh",
    "live.open": "Live",
    "live.connecting": "Connecting…",
    "live.error": "Disconnected",
    "live.off": "Offline",

    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.member": "Member number",
    "login.pin": "PIN",
    "login.submit": "Log in",
    "login.busy": "Logging in…",
    "login.household.intro": "Log in with your member number and PIN.",
    "login.collector.intro": "Log in with your collector account.",
    "login.operator.intro": "Log in with your waste-bank operator account.",
    "login.wrongrole": "This account cannot open this page.",

    "nav.overview": "Overview",
    "nav.pickups": "Pickups",
    "nav.charts": "Charts",
    "nav.households": "Households",
    "nav.devices": "Devices",

    "kpi.bins_full": "Bins full",
    "kpi.devices_online": "Devices online",
    "kpi.open_pickups": "Open pickups",
    "kpi.today_kg": "Weighed today",
    "kpi.today_rp": "Value credited today",

    "bins.title": "Bins",
    "bins.map": "Bin map",
    "bins.list": "Bin list",
    "bins.none": "No bins registered yet.",
    "bins.noloc": "Bins without a location are not drawn.",
    "bins.fill": "Fill",
    "bins.fault": "Sensor fault",
    "bins.legend.low": "< 50 %",
    "bins.legend.mid": "50–79 %",
    "bins.legend.high": "80–94 %",
    "bins.legend.full": "≥ 95 %",
    "bins.legend.unknown": "unknown",

    "feed.title": "Live weigh-ins",
    "feed.none": "No weigh-ins yet.",
    "feed.time": "Time",
    "feed.station": "Station",
    "feed.household": "Household",
    "feed.category": "Category",
    "feed.weight": "Weight",
    "feed.amount": "Rupiah",
    "feed.unassigned": "unknown card",

    "alerts.title": "Alerts",
    "alerts.none": "No alerts.",
    "alerts.ack": "Acknowledge",
    "alerts.acked": "Acknowledged by {who}",
    "alerts.kind.bin_full": "Bin full",
    "alerts.kind.sensor_fault": "Sensor fault",
    "alerts.kind.device_offline": "Device offline",
    "alerts.kind.dead_letter": "Message rejected",
    "alerts.kind.lid_open": "Lid open",
    "alerts.kind.tilt": "Bin tilted",
    "alerts.msg.bin_full": "{pct} full, needs a pickup",
    "alerts.msg.sensor_fault": "Fill sensor: {fault}",
    "alerts.msg.device_offline": "Last heard {when}",
    "fault.no_echo": "no echo",
    "fault.out_of_range": "out of range",
    "fault.unstable": "unstable readings",
    "fault.hardware": "hardware fault",

    "devices.title": "Devices",
    "devices.none": "No devices yet.",
    "devices.online": "online",
    "devices.offline": "offline",
    "devices.revoked": "revoked",
    "devices.lastseen": "Last seen",
    "devices.version": "Version",
    "devices.outbox": "Outbox",
    "devices.kind.station": "Scale station",
    "devices.kind.bin": "Bin sensor",

    "deadletters.title": "Rejected messages",
    "deadletters.none": "No rejected messages.",

    "pickups.title": "Pickup board",
    "pickups.open": "Open",
    "pickups.assigned": "Assigned",
    "pickups.done": "Done today",
    "pickups.none": "None.",
    "pickups.due": "Due {when}",
    "pickups.overdue": "Overdue",
    "pickups.kind.bin_full": "Bin full",
    "pickups.kind.household": "Household request",
    "pickups.kind.manual": "Manual",
    "pickups.collector": "Collector",
    "pickups.choose": "Choose a collector…",
    "pickups.assign": "Assign",
    "pickups.assigned_to": "Collector: {name}",
    "pickups.weight": "Collected weight (kg)",
    "pickups.complete": "Done",
    "pickups.completed": "Done {when}, {kg}",
    "pickups.fill_at_open": "Fill when opened: {pct}",
    "pickups.forecast": "Forecast full {when}",
    "pickups.assigned_ok": "Pickup assigned.",
    "pickups.completed_ok": "Pickup completed.",
    "pickups.weight_invalid": "Enter the weight in kg, e.g. 2.5.",

    "charts.title": "Charts",
    "charts.fill": "Bin fill history",
    "charts.bin": "Bin",
    "charts.period": "Period",
    "charts.h1": "1 hour",
    "charts.h24": "24 hours",
    "charts.d7": "7 days",
    "charts.d30": "30 days",
    "charts.perday": "Kg and rupiah per category per day",
    "charts.kg": "kg",
    "charts.rp": "Rupiah",
    "charts.nodata": "No data for this period yet.",
    "charts.threshold": "Threshold {pct}",
    "charts.category": "Category",
    "charts.all": "All categories",

    "hh.title": "Find a household",
    "hh.search": "Member number or name",
    "hh.find": "Search",
    "hh.none": "Nothing found.",
    "hh.balance": "Balance",
    "hh.available": "Available",
    "hh.statement": "Statement",
    "hh.payouts": "Payouts",
    "hh.payout.request": "Request a payout",
    "hh.payout.amount": "Amount (Rp)",
    "hh.payout.approve": "Approve",
    "hh.payout.reject": "Reject",
    "hh.payout.pay": "Pay out",
    "hh.payout.none": "No payouts yet.",
    "hh.payout.ok": "Payout updated.",
    "hh.payout.status.requested": "requested",
    "hh.payout.status.approved": "approved",
    "hh.payout.status.paid": "paid",
    "hh.payout.status.rejected": "rejected",
    "hh.payout.status.cancelled": "cancelled",
    "hh.member": "Member no.",
    "hh.name": "Name",
    "hh.address": "Address",
    "hh.phone": "Phone",

    "stmt.none": "No transactions yet.",
    "stmt.date": "Date",
    "stmt.desc": "Description",
    "stmt.amount": "Amount",
    "stmt.balance": "Balance",
    "stmt.kind.weighin_credit": "Waste deposit",
    "stmt.kind.reversal": "Correction",
    "stmt.kind.payout": "Cash payout",
    "stmt.kind.adjustment": "Adjustment",

    "home.hello": "Hello, {name}",
    "home.balance": "Your savings balance",
    "home.request": "Request a plastic pickup",
    "home.request.note": "Note for the collector (optional)",
    "home.request.send": "Send request",
    "home.request.ok": "Request sent. A collector will come by.",
    "home.request.open": "Your pickup requests",
    "home.request.status.open": "waiting for a collector",
    "home.request.status.assigned": "collector assigned",
    "home.request.status.done": "done",
    "home.request.status.cancelled": "cancelled",
    "home.statement": "Savings history",

    "col.today": "Pickup list",
    "col.none": "No pickups for you today.",
    "col.address": "Address",
    "col.done_list": "Already done",
    "col.weight": "Weight (kg)",
    "col.mark_done": "Mark done",
    "col.order_note": "Order: overdue first, then nearest due time and priority.",
    "col.bin": "Bin {id}",

    "err.login": "Wrong number/name or password, or the session ended.",
    "err.throttled": "Too many attempts. Try again in a moment.",
    "err.network": "Cannot reach the server.",
    "err.generic": "Something went wrong.",
    "err.forbidden": "You are not allowed to do this.",

    "unknown": "unknown",
  },
};

export function lang() {
  const v = localStorage.getItem(LANG_KEY);
  return v === "en" ? "en" : "id";
}

/** Translate `key`, filling {placeholders} from `vars`. Unknown keys show the key. */
export function t(key, vars = {}) {
  const table = STRINGS[lang()];
  let str = table[key] ?? STRINGS.id[key] ?? key;
  for (const [k, v] of Object.entries(vars)) str = str.replaceAll(`{${k}}`, String(v));
  return str;
}

const listeners = new Set();
/** Call `fn` after every language change (to re-render dynamic content). */
export function onLangChange(fn) {
  listeners.add(fn);
}

/** Apply translations to static markup under `root`. */
export function translate(root = document) {
  document.documentElement.lang = lang();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["placeholder", "aria-label", "title"]) {
    const data = "i18n" + attr.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase());
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.dataset[data]));
  }
}

export function setLang(value) {
  localStorage.setItem(LANG_KEY, value === "en" ? "en" : "id");
  translate();
  for (const fn of listeners) fn();
}

/** Wire a toggle button (shows the *other* language's name). */
export function bindLangToggle(button) {
  const label = () => {
    button.textContent = t("lang.toggle");
    button.setAttribute("aria-label", t("lang.toggle.aria"));
  };
  button.addEventListener("click", () => {
    setLang(lang() === "id" ? "en" : "id");
    label();
  });
  onLangChange(label);
  label();
}
