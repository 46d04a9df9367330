"""Places of Kabupaten Banyumas for the regency simulation: its 27 kecamatan and desa.

Each kecamatan: its name, an approximate centre (WGS 84), an approximate population
(thousands, for how many households it gets) and desa/kelurahan names. The names are real
places of Banyumas (a selection, ~300 of its 331 desa and kelurahan); the coordinates
and populations are rounded, good enough for a map and a plausible spread of load, not a
gazetteer. Data only: :mod:`simulators.regency` builds the sites from it.
"""

from __future__ import annotations

from typing import NamedTuple


class Kecamatan(NamedTuple):
    name: str
    lat: float
    lon: float
    population_k: int
    desa: tuple[str, ...]


KECAMATAN: tuple[Kecamatan, ...] = (
    Kecamatan("Ajibarang", -7.410, 109.080, 100, (
        "Ajibarang Kulon", "Ajibarang Wetan", "Pancurendang", "Pancasan", "Karangbawang",
        "Kalibenda", "Sawangan", "Tipar Kidul", "Ciberung", "Darmakradenan", "Jingkang",
        "Lesmana", "Pandansari", "Kracak", "Banjarsari", "Cibangkong")),
    Kecamatan("Banyumas", -7.515, 109.295, 52, (
        "Sudagaran", "Kedunguter", "Kalisube", "Pekunden", "Dawuhan", "Pasinggangan",
        "Kejawar", "Danaraja", "Binangun", "Karangrau", "Sudimara", "Papringan")),
    Kecamatan("Baturraden", -7.320, 109.230, 54, (
        "Karangmangu", "Kemutug Lor", "Kemutug Kidul", "Ketenger", "Karangsalam",
        "Karangtengah", "Purwosari", "Rempoah", "Pamijen", "Kebumen", "Pandak",
        "Karangpucung")),
    Kecamatan("Cilongok", -7.400, 109.150, 120, (
        "Cilongok", "Pernasidi", "Langgongsari", "Cipete", "Karanglo", "Kalisari",
        "Sudimara", "Panembangan", "Sambirata", "Gununglurah", "Jatisaba", "Rancamaya",
        "Panusupan", "Batuanten", "Kasegeran", "Pageraji", "Karangtengah", "Cikidang",
        "Sokawera", "Pejogol")),
    Kecamatan("Gumelar", -7.380, 108.990, 49, (
        "Gumelar", "Cihonje", "Paningkaban", "Kedungurang", "Samudra", "Samudra Kulon",
        "Tlaga", "Cilangkap", "Karangkemojing", "Gancang")),
    Kecamatan("Jatilawang", -7.550, 109.110, 63, (
        "Jatilawang", "Tunjung", "Kedungwringin", "Gentawangi", "Pekuncen", "Tinggarjaya",
        "Margasana", "Karanganyar", "Karanglewas", "Gunungwetan", "Bantar")),
    Kecamatan("Kalibagor", -7.490, 109.320, 51, (
        "Kalibagor", "Kaliori", "Kalicupak Kidul", "Kalicupak Lor", "Suro", "Pajerukan",
        "Wlahar", "Srowot", "Petir", "Karangdadap", "Pekaja", "Kalisogra Wetan")),
    Kecamatan("Karanglewas", -7.410, 109.200, 63, (
        "Karanglewas Kidul", "Pangebatan", "Jipang", "Tamansari", "Karanggude Kulon",
        "Singasari", "Babakan", "Kediri", "Pasir Wetan", "Pasir Kulon", "Pasir Lor",
        "Karangkemiri", "Sunyalangu")),
    Kecamatan("Kebasen", -7.550, 109.200, 62, (
        "Kebasen", "Gambarsari", "Kalisalak", "Sawangan", "Adisana", "Tumiyang", "Bangsa",
        "Cindaga", "Randegan", "Mandirancan", "Karangsari", "Bentakan")),
    Kecamatan("Kedungbanteng", -7.370, 109.190, 56, (
        "Kedungbanteng", "Beji", "Kalikesur", "Karangnangka", "Kalisalak", "Dawuhan Wetan",
        "Dawuhan Kulon", "Kutaliman", "Karangsalam Kidul", "Melung", "Windujaya", "Baseh",
        "Keniten", "Kebocoran")),
    Kecamatan("Kembaran", -7.420, 109.290, 82, (
        "Kembaran", "Bojongsari", "Dukuhwaluh", "Ledug", "Karangtengah", "Karangsoka",
        "Purwodadi", "Kramat", "Sambeng Kulon", "Sambeng Wetan", "Pliken",
        "Tambaksari Kidul", "Linggasari", "Purbadana", "Bantarwuni", "Karangsari")),
    Kecamatan("Kemranjen", -7.600, 109.290, 68, (
        "Kemranjen", "Sibrama", "Nusamangir", "Pageralang", "Alasmalang", "Karangjati",
        "Kecila", "Sirau", "Petarangan", "Grujugan", "Sidamulya", "Sibalung",
        "Karanggintung", "Kebarongan", "Karangsalam")),
    Kecamatan("Lumbir", -7.450, 108.960, 46, (
        "Lumbir", "Dermaji", "Canduk", "Kedunggede", "Cingebul", "Cidora", "Karanggayam",
        "Parungkamal", "Besuki", "Sawangan")),
    Kecamatan("Patikraja", -7.480, 109.210, 57, (
        "Patikraja", "Notog", "Sawangan Wetan", "Kedungwringin", "Pegalongan", "Sidabowa",
        "Karanganyar", "Wlahar Wetan", "Kedungrandu", "Sokawera", "Kretek", "Karangendep",
        "Sette")),
    Kecamatan("Pekuncen", -7.330, 109.060, 71, (
        "Pekuncen", "Cibangkong", "Krajan", "Semedo", "Glempang", "Banjaranyar", "Tumiyang",
        "Kranggan", "Karangkemiri", "Pasiraman Lor", "Pasiraman Kidul", "Petahunan",
        "Cikawung", "Candinegara", "Karangklesem", "Cikembulan")),
    Kecamatan("Purwojati", -7.480, 109.110, 36, (
        "Purwojati", "Gerduren", "Karangtalun Kidul", "Karangtalun Lor", "Kaliurip",
        "Kaliputih", "Kalitapen", "Klapanunggal", "Karangmangu", "Kaliwangi")),
    Kecamatan("Purwokerto Barat", -7.420, 109.225, 53, (
        "Pasir Kidul", "Rejasari", "Pasirmuncang", "Bantarsoka", "Kober", "Kedungwuluh",
        "Karanglewas Lor")),
    Kecamatan("Purwokerto Selatan", -7.440, 109.245, 75, (
        "Karangklesem", "Teluk", "Berkoh", "Purwokerto Kidul", "Purwokerto Kulon",
        "Karangpucung", "Tanjung")),
    Kecamatan("Purwokerto Timur", -7.420, 109.250, 60, (
        "Sokanegara", "Kranji", "Purwokerto Lor", "Purwokerto Wetan", "Mersi",
        "Arcawinangun")),
    Kecamatan("Purwokerto Utara", -7.400, 109.240, 60, (
        "Bobosan", "Purwanegara", "Bancarkembar", "Sumampir", "Pabuaran", "Grendeng",
        "Karangwangkal")),
    Kecamatan("Rawalo", -7.520, 109.160, 51, (
        "Rawalo", "Banjarparakan", "Tambaknegara", "Losari", "Sidamulih", "Pesawahan",
        "Menganti", "Tambaksogra", "Sanggreman")),
    Kecamatan("Sokaraja", -7.460, 109.290, 87, (
        "Sokaraja Kulon", "Sokaraja Wetan", "Sokaraja Tengah", "Sokaraja Lor", "Kalikidang",
        "Banjarsari Kidul", "Jompo", "Karangkedawung", "Wiradadi", "Karangrau", "Klahang",
        "Pamijen", "Kedondong", "Lemberang", "Bojongsari", "Karangduren", "Sokawera",
        "Banjaranyar")),
    Kecamatan("Somagede", -7.540, 109.340, 35, (
        "Somagede", "Kemawi", "Tanggeran", "Klinting", "Sokawera", "Somakaton", "Plana",
        "Piasa Kulon", "Kanding")),
    Kecamatan("Sumbang", -7.380, 109.290, 87, (
        "Sumbang", "Kawungcarang", "Karangcegak", "Banjarsari Wetan", "Kebanggan",
        "Limpakuwus", "Kotayasa", "Ciberem", "Gandatapa", "Sikapat", "Datar", "Silado",
        "Susukan", "Karanggintung", "Banteran", "Kedungmalang", "Karangturi", "Tambaksogra",
        "Sunyalangu")),
    Kecamatan("Sumpiuh", -7.610, 109.360, 54, (
        "Sumpiuh", "Kradenan", "Kuntili", "Lebeng", "Karanggedang", "Pandak", "Bogangin",
        "Nusadadi", "Ketanda", "Selanegara", "Kebokura", "Banjarpanepen", "Kemiri",
        "Pecangaan")),
    Kecamatan("Tambak", -7.620, 109.400, 46, (
        "Tambak", "Gumelar Lor", "Gumelar Kidul", "Karangpetir", "Buniayu", "Kamulyan",
        "Pesantren", "Purwodadi", "Plangkapan", "Prembun", "Watuagung", "Karangpucung")),
    Kecamatan("Wangon", -7.520, 109.050, 80, (
        "Wangon", "Klapagading", "Klapagading Kulon", "Banteran", "Rawaheng", "Pengadegan",
        "Randegan", "Jambu", "Wlahar", "Jurangbahas", "Cikakak", "Windunegara")),
)  # fmt: skip
