"""The station's ticket printer and display: ESC/POS to a simulated printer on a pty,
an HD44780 LCD simulated at the I2C bus; paper out, unplugged, stuck, reprint."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from escpos.printer import Dummy

from contract.models import Receipt, ReceiptStatus
from edge.agent import Agent
from edge.capture import CapturedWeight
from edge.config import DisplaySettings, EdgeSettings, PrinterSettings
from edge.display import StationDisplay
from edge.printer import PrinterError, Style
from edge.tickets import TicketDesk
from simulators.lcd import LcdBus, shared_bus
from simulators.printer import EscPosDecoder, PrinterSimulator
from simulators.pty import PtyDevice
from tests.edge.harness import AgentProcess, FakeCloud, Scale, write_config
from tests.support.services import MosquittoServer
from tests.support.waiting import wait_until

WEIGHED = datetime(2026, 12, 1, 10, 53, 12, tzinfo=UTC)  # 17:53 WIB

EXPECTED = """\
      BANK SAMPAH SOKARAJA
 Jl. Raya Sokaraja 12, Banyumas
       Stasiun st-bank01
--------------------------------
Waktu     01-12-2026 17:53 WIB
Anggota   BMS-0001
Jenis     Plastik PET
Berat     0,88 kg
Harga/kg  Rp 3.000
Jumlah    Rp 2.640
--------------------------------
ID        st-bank01:17
Kode cek  7K3Q-X9M2-PA4T
--------------------------------
      TERCATAT / CREDITED
         Terima kasih!"""


def receipt(seq: int = 17, **kw: object) -> Receipt:
    fields: dict[str, object] = dict(
        device_id="st-bank01",
        event_id=f"st-bank01:{seq}",
        seq=seq,
        status=ReceiptStatus.CREDITED,
        amount_rp=2640,
        price_rp_per_kg=3000,
        net_g=880,
        member_no="BMS-0001",
        processed_at=WEIGHED,
        verify_code="7K3QX9M2PA4T",
    )
    fields.update(kw)
    return Receipt.model_validate(fields)


@pytest.fixture
def printer_dev(tmp_path: Path) -> Iterator[tuple[PtyDevice, PrinterSimulator]]:
    with (
        PtyDevice(tmp_path, name="usb-Sim_Printer-if00") as dev,
        PrinterSimulator(dev, out=tmp_path / "tickets.txt") as sim,
    ):
        yield dev, sim


def settings_for(tmp_path: Path, port: str) -> PrinterSettings:
    return PrinterSettings(
        port=port,
        waste_bank="Bank Sampah Sokaraja",
        address="Jl. Raya Sokaraja 12, Banyumas",
        category_names={"plastic-pet": "Plastik PET"},
        spool=tmp_path / "tickets.db",
        retry_s=0.1,
    )


def desk_for(tmp_path: Path, port: str, **kw: object) -> TicketDesk:
    return TicketDesk(settings_for(tmp_path, port), "st-bank01", clock=lambda: WEIGHED, **kw)  # type: ignore[arg-type]


def test_the_decoder_reads_what_python_escpos_writes_in_any_chunks() -> None:
    """mutant: GS v raster blocks not skipped by their length -> image bytes become text."""
    p = Dummy()
    p.hw("INIT")
    p.set(align="center", bold=True, double_height=True)
    p.textln("BANK")
    p.set(align="left", normal_textsize=True)
    p.textln("Berat 1,25 kg")
    p.qr("https://salinmas.example/v/ABC", size=3)
    p.textln("after the code")
    p.cut()
    whole, bytewise = EscPosDecoder(), EscPosDecoder()
    whole.feed(p.output)
    for b in p.output:
        bytewise.feed(bytes([b]))
    assert whole.tickets == bytewise.tickets
    (ticket,) = whole.tickets
    lines = [ln for ln in ticket.splitlines() if ln.strip()]
    assert lines == ["              BANK", "Berat 1,25 kg", "after the code"]


def test_a_ticket_has_the_right_figures(
    tmp_path: Path, printer_dev: tuple[PtyDevice, PrinterSimulator]
) -> None:
    """mutant: every receipt re-queues the ticket -> a repeated receipt prints it again.
    mutant: the receipt's verification code not printed (blank line) -> EXPECTED differs."""
    dev, sim = printer_dev
    desk = desk_for(tmp_path, dev.path)
    try:
        desk.weighed(seq=17, event_id="st-bank01:17", category="plastic-pet", net_g=880)
        desk.receipt(receipt())
        assert desk.print_due() == 1
        desk.receipt(receipt())  # a repeated receipt prints nothing more
        assert desk.print_due() == 0
    finally:
        desk.stop()
    assert sim.wait_tickets(1) == [EXPECTED]
    assert (tmp_path / "tickets.txt").read_text() == EXPECTED + "\n-- cut --\n"


def test_paper_out_and_unplugged_keep_the_ticket_for_later(
    tmp_path: Path, printer_dev: tuple[PtyDevice, PrinterSimulator]
) -> None:
    """mutant: a failed print marks the ticket printed -> it is never printed."""
    dev, sim = printer_dev
    desk = desk_for(tmp_path, dev.path)
    try:
        desk.weighed(seq=17, event_id="st-bank01:17", category="plastic-pet", net_g=880)
        desk.receipt(receipt())
        sim.paper = False
        assert desk.print_due() == -1
        assert desk.spool.state("st-bank01:17") == ("to_print", 0, "the printer is out of paper")
        sim.paper = True
        dev.unplug()
        assert desk.print_due() == -1
        state = desk.spool.state("st-bank01:17")
        assert state is not None
        assert "not available" in (state[2] or "")
        dev.replug()
        desk.start()  # the desk's own thread retries every retry_s
        assert sim.wait_tickets(1) == [EXPECTED]
        wait_until(lambda: desk.spool.state("st-bank01:17") == ("printed", 1, None), 10, "printed")
    finally:
        desk.stop()


class StuckPrinter:
    """A printer whose port blocks (a serial line with flow control held off)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def print_lines(self, lines: list[tuple[str, Style]]) -> None:
        self.entered.set()
        self.release.wait(30)
        raise PrinterError("gave up")

    def close(self) -> None:
        self.release.set()


def test_a_stuck_printer_never_holds_up_a_weighin_or_a_receipt(tmp_path: Path) -> None:
    """The printer is touched only by the desk's thread: capture and receipts go on.

    mutant: receipt() prints inline (on the link's thread) -> the second and third calls
    wait on the stuck printer and have not returned after 10 s.
    """
    stuck = StuckPrinter()
    desk = desk_for(tmp_path, "/dev/null", printer=stuck)
    desk.start()

    def station_and_link(seqs: tuple[int, ...]) -> threading.Thread:
        def run() -> None:
            for seq in seqs:
                desk.weighed(
                    seq=seq, event_id=f"st-bank01:{seq}", category="plastic-pet", net_g=880
                )
                desk.receipt(receipt(seq))

        t = threading.Thread(target=run)
        t.start()
        return t

    try:
        station_and_link((1,)).join(10)
        assert stuck.entered.wait(10)  # the desk is stuck printing ticket 1
        others = station_and_link((2, 3))  # the station and the link carry on
        others.join(10)
        assert not others.is_alive()  # they never waited for the printer
        assert [desk.spool.state(f"st-bank01:{n}") for n in (2, 3)] == [("to_print", 0, None)] * 2
    finally:
        desk.stop()


def test_a_ticket_is_printed_again_from_another_process(
    tmp_path: Path, printer_dev: tuple[PtyDevice, PrinterSimulator]
) -> None:
    """``salinmas edge reprint`` marks the ticket; the running desk prints it (REPRINT)."""
    dev, sim = printer_dev
    desk = desk_for(tmp_path, dev.path)
    desk.start()
    try:
        desk.weighed(seq=17, event_id="st-bank01:17", category="plastic-pet", net_g=880)
        desk.receipt(receipt())
        sim.wait_tickets(1)
        wait_until(lambda: desk.spool.state("st-bank01:17") == ("printed", 1, None), 10, "printed")
        config = tmp_path / "station.toml"
        config.write_text(
            f'[edge]\ndevice_id = "st-bank01"\n[edge.station]\nscale_port = "/dev/null"\n'
            f'[edge.printer]\nport = "{dev.path}"\nspool = "{tmp_path / "tickets.db"}"\n'
        )
        r = subprocess.run(
            [sys.executable, "-m", "salinmas", "edge", "reprint", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert "st-bank01:17 will be printed again" in r.stdout
        tickets = sim.wait_tickets(2)
    finally:
        desk.stop()
    assert tickets[1].replace("  ** CETAK ULANG / REPRINT **\n", "") == EXPECTED
    assert "** CETAK ULANG / REPRINT **" in tickets[1]


def test_the_display_shows_amount_and_member_and_recovers() -> None:
    """mutant: the LCD object is kept after an I2C error -> it never shows again."""
    bus = LcdBus()
    display = StationDisplay(DisplaySettings(), bus_factory=lambda n: bus)
    display.show_receipt(receipt())
    assert bus.lines() == ["Rp 2.640        ", "→ BMS-0001      "]
    display.show_receipt(receipt(status=ReceiptStatus.UNASSIGNED, amount_rp=0, member_no=None))
    assert bus.text() == "0,88 kg\nkartu? / card?"
    bus.unplug()
    assert display.show("x") is False
    bus.replug()  # powered up again: back in 8-bit mode, blank, until initialised
    display.show_receipt(receipt(amount_rp=12_345_678))
    assert bus.text() == "Rp 12.345.678\n→ BMS-0001"


def test_the_agent_wires_capture_receipt_ticket_and_display(
    tmp_path: Path, printer_dev: tuple[PtyDevice, PrinterSimulator]
) -> None:
    """In one process: the agent records the weigh-in at capture and, at its receipt,
    shows it on the LCD and prints the ticket with the category it was weighed as."""
    dev, sim = printer_dev
    settings = EdgeSettings(
        device_id="st-bank01",
        pin_factory="mock",
        station={"scale_port": str(dev.path)},
        outbox={"path": str(tmp_path / "outbox.db")},
        printer=settings_for(tmp_path, dev.path),
        display={"bus": 7, "bus_factory": "simulators.lcd:shared_bus"},
        boot_id_file=tmp_path / "none",
        boot_id_fallback=tmp_path / "boot_id",
        clock_sync_flag=tmp_path / "none",
    )
    agent = Agent(settings)
    assert agent.tickets is not None
    try:
        weight = CapturedWeight(net_g=880, tare_g=0, division_g=10, frames=(), stable_ms=500)
        seq = agent.submit_weighin(weight, "0A00010001", "plastic-pet", "and_indicator")
        assert seq == 1
        agent._on_receipt(receipt(seq, event_id="st-bank01:1"), True)
        assert agent.tickets.print_due() == 1
    finally:
        agent.tickets.stop()
        agent.outbox.close()
    (ticket,) = sim.wait_tickets(1)
    assert "Jenis     Plastik PET" in ticket
    assert "ID        st-bank01:1" in ticket
    assert shared_bus(7).text() == "Rp 2.640\n→ BMS-0001"


@pytest.mark.integration
def test_a_real_agent_prints_tickets_and_weighs_on_while_the_paper_is_out(
    mosquitto: MosquittoServer, tmp_path: Path, printer_dev: tuple[PtyDevice, PrinterSimulator]
) -> None:
    """The agent process, a real broker, a scale on a pty: each receipt prints a ticket;
    with the paper out the next weigh-in is captured and credited all the same, and its
    ticket comes out when paper is back.

    mutant: a ticket that could not be printed is marked printed -> the second ticket never
    comes out.
    """
    dev, sim = printer_dev
    device_id, password = "st-ticket01", "pw-st-ticket01-0123456789"
    mosquitto.add_device(device_id, password)
    scale = Scale(tmp_path)
    cloud = FakeCloud(mosquitto, client_id="cloud-ticket-test")
    tail = (
        f'[edge.printer]\nport = "{dev.path}"\nspool = "{tmp_path / "tickets.db"}"\n'
        'retry_s = 0.2\nwaste_bank = "Bank Sampah Uji"\n'
    )
    config = write_config(
        tmp_path / "station.toml",
        device_id=device_id,
        password=password,
        mqtt_port=mosquitto.port,
        scale_port=scale.path,
        outbox=tmp_path / "outbox.db",
        tail=tail,
    )
    agent = AgentProcess(config, tmp_path / "agent.log").start()
    try:
        scale.weigh(1_250, agent)
        (first,) = sim.wait_tickets(1, 30)
        sim.paper = False
        scale.weigh(3_400, agent)
        wait_until(lambda: len(cloud.of("weighin", device_id)) == 2, 20, "the second weigh-in")
        # event ids from the wire: the station's configuration log takes seqs too
        one, two = (d["event_id"] for d in cloud.of("weighin", device_id))
        wait_until(lambda: f"ticket {two} not printed" in agent.text(), 20, "a failed try")
        assert len(sim.tickets) == 1
        sim.paper = True
        tickets = sim.wait_tickets(2, 30)
    finally:
        assert agent.stop() == 0
        cloud.close()
        scale.close()
    assert "BANK SAMPAH UJI" in first
    assert "Berat     1,25 kg" in first
    assert "Jumlah    Rp 3.750" in first  # the stand-in cloud credits 3 rupiah a gram
    assert f"ID        {one}" in first
    assert "Berat     3,40 kg" in tickets[1]
    assert f"ID        {two}" in tickets[1]
