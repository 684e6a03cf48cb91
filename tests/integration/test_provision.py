"""Templates and VMs made from them, end to end on libvirt's test driver
(docs/provisioning.md): a template of a shut-off VM with its image copied,
versions, linked clones and full copies with their own UUID and MACs,
sizes changed, the audit trail and the change history naming the
creation, and the refusals (a running VM, an unknown template, a name
taken, bad bodies)."""
import pytest

NODE = """<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>4</active>
    <nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads></cpu>
  <memory>8388608</memory>
  <domain type='test'>
    <name>golden</name>
    <uuid>9a000000-0000-4000-8000-000000000001</uuid>
    <memory unit='KiB'>524288</memory>
    <currentMemory unit='KiB'>524288</currentMemory>
    <vcpu placement='static'>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='/images/golden.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='52:54:00:9a:00:01'/>
        <source network='default'/>
      </interface>
    </devices>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>
  </domain>
  <domain type='test'>
    <name>busy</name>
    <uuid>9a000000-0000-4000-8000-000000000002</uuid>
    <memory unit='KiB'>524288</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/images/busy.img'/>
        <target dev='vda' bus='virtio'/>
      </disk>
    </devices>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>1</test:runstate>
  </domain>
  <domain type='test'>
    <name>loose</name>
    <uuid>9a000000-0000-4000-8000-000000000003</uuid>
    <memory unit='KiB'>524288</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/elsewhere/loose.img'/>
        <target dev='vda' bus='virtio'/>
      </disk>
    </devices>
    <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5</test:runstate>
  </domain>
  <network>
    <name>default</name>
    <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
    <bridge name='virbr0'/><forward/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
  <pool type='dir'>
    <name>images</name>
    <uuid>35bb2ad9-388a-cdfe-461a-b8907f6e53fe</uuid>
    <capacity>107374182400</capacity><allocation>0</allocation>
    <available>107374182400</available>
    <target><path>/images</path></target>
    <volume><name>golden.qcow2</name><capacity>2147483648</capacity>
      <allocation>1048576</allocation><target><format type='qcow2'/></target></volume>
    <volume><name>busy.img</name><capacity>1073741824</capacity>
      <allocation>1048576</allocation></volume>
  </pool>
</node>
"""


@pytest.fixture
def k(kanrid_factory, tmp_path):
    node = tmp_path / "lab.xml"
    node.write_text(NODE)
    kd = kanrid_factory(args=["--connect", f"test://{node}"])
    kd.wait_connected(["lab"])
    kd.wait_for(lambda: len(kd.vms()) == 3, what="inventory of 3 VMs")
    return kd


def make_template(k, name="web", vm="golden"):
    r = k.post("/api/v1/templates", {"name": name, "vm": vm})
    assert r.status == 201, r
    return r.json


def test_template_of_a_shut_off_vm_and_its_versions(k):
    made = make_template(k)
    t = made["template"]
    assert t["name"] == "web" and t["version"] == 1
    assert t["host"] == "lab" and t["pool"] == "images" and t["source_vm"] == "golden"
    assert t["disks"] == [{"target": "vda", "path": "/images/web-v1-vda.qcow2",
                           "format": "qcow2"}]
    assert t["by"].startswith("admin") and t["audit_id"] == made["audit_id"]

    # The definition: named after the template, on its own image, without
    # the VM's UUID and MAC.
    show = k.get("/api/v1/templates/web").json
    assert "<name>web</name>" in show["xml"]
    assert "/images/web-v1-vda.qcow2" in show["xml"]
    assert "9a000000" not in show["xml"] and "52:54:00:9a:00:01" not in show["xml"]
    # The image was copied into the pool.
    pools = {p["name"]: p for p in k.get("/api/v1/pools").json["pools"]}
    assert "images" in pools

    # A second version; the list shows the newest, show lists both.
    assert make_template(k)["template"]["version"] == 2
    lst = k.get("/api/v1/templates").json["templates"]
    assert [(x["name"], x["version"]) for x in lst] == [("web", 2)]
    assert "xml" not in lst[0]
    show = k.get("/api/v1/templates/web").json
    assert [v["version"] for v in show["versions"]] == [1, 2]
    assert k.get("/api/v1/templates/web?version=1").json["disks"][0]["path"] == \
        "/images/web-v1-vda.qcow2"
    assert k.get("/api/v1/templates/web?version=7").status == 404

    # Audited as template-create on the VM.
    audit = k.get("/api/v1/audit?vm=golden&limit=5").json["audit"]
    assert audit[0]["action"] == "template-create" and audit[0]["result"] == "ok"


def test_refusals(k):
    # A running VM, a VM whose disk is in no pool, an unknown VM, bad names.
    r = k.post("/api/v1/templates", {"name": "t", "vm": "busy"})
    assert r.status == 409 and "shut-off" in r.json["detail"], r
    r = k.post("/api/v1/templates", {"name": "t", "vm": "loose"})
    assert r.status == 409 and "no storage pool" in r.json["detail"], r
    assert k.post("/api/v1/templates", {"name": "t", "vm": "nope"}).status == 404
    r = k.post("/api/v1/templates", {"name": "../x", "vm": "golden"})
    assert r.status == 400 and "name" in r.json["detail"]
    r = k.post("/api/v1/templates", {"name": "t", "vm": "golden", "extra": 1})
    assert r.status == 400
    assert k.get("/api/v1/templates").json["templates"] == []
    # Nothing was left in the pool by the failures.
    assert k.get("/api/v1/templates/t").status == 404

    make_template(k)
    r = k.post("/api/v1/vms", {"template": "nope", "name": "x"})
    assert r.status == 404 and "no template" in r.json["detail"]
    r = k.post("/api/v1/vms", {"template": "web", "name": "x", "xml": "<domain/>"})
    assert r.status == 400
    r = k.post("/api/v1/vms", {"host": "lab", "xml": "<domain/>", "vcpus": 2})
    assert r.status == 400 and "without a template" in r.json["detail"]
    r = k.post("/api/v1/vms", {"template": "web", "name": "x", "vcpus": 0})
    assert r.status == 400
    r = k.post("/api/v1/vms", {"template": "web", "name": "x", "host": "nowhere"})
    assert r.status == 400
    # A name taken: the image's name collides first, and nothing is made.
    assert k.post("/api/v1/vms", {"template": "web", "name": "c1"}).status == 201
    r = k.post("/api/v1/vms", {"template": "web", "name": "c1"})
    assert r.status in (409, 502) and r.json.get("audit_id"), r
    assert [v for v in k.vms() if v == "c1"] == ["c1"]


def test_linked_and_full_clones(k):
    make_template(k)
    r = k.post("/api/v1/vms", {"template": "web", "name": "web1", "vcpus": 2,
                               "memory_bytes": 1 << 30, "disk_bytes": 4 << 30})
    assert r.status == 201, r
    vm = r.json["vm"]
    assert vm["name"] == "web1" and vm["host"] == "lab" and vm["state"] == "running"
    assert vm["vcpus"] == 2 and vm["max_memory_bytes"] == 1 << 30
    assert vm["disks"][0]["source"] == "/images/web1-vda.qcow2"
    assert vm["uuid"] != "9a000000-0000-4000-8000-000000000001"
    assert vm["nics"][0]["mac"] != "52:54:00:9a:00:01"

    r = k.post("/api/v1/vms", {"template": "web", "name": "web2", "linked": False,
                               "start": False})
    assert r.status == 201, r
    v2 = r.json["vm"]
    assert v2["state"] == "shutoff" and v2["vcpus"] == 1
    assert v2["disks"][0]["source"] == "/images/web2-vda.qcow2"
    assert v2["nics"][0]["mac"] not in (vm["nics"][0]["mac"], "52:54:00:9a:00:01")

    # Each creation is one audit entry on the new VM, and its definition
    # is a change caused by it.
    a = k.get("/api/v1/audit?vm=web1&limit=5").json["audit"]
    assert a[0]["action"] == "create" and a[0]["result"] == "ok"
    assert a[0]["params"]["template"] == "web"
    ch = k.get("/api/v1/changes?vm=web1").json["changes"]
    assert ch and ch[-1]["cause"] == "action" and ch[-1]["audit_id"] == a[0]["id"]

    # The template deleted: gone from the list, the clones stay.
    r = k.request("DELETE", "/api/v1/templates/web")
    assert r.status == 200 and "linked clones" in r.json["note"]
    assert k.get("/api/v1/templates").json["templates"] == []
    assert k.request("DELETE", "/api/v1/templates/web").status == 404
    assert k.post("/api/v1/vms", {"template": "web", "name": "web3"}).status == 404
    assert {"web1", "web2"} <= set(k.vms())


def test_cli(k):
    out = k.cli("template", "create", "base", "--from", "golden", check=True).stdout
    assert "Template 'base' version 1 made from 'golden'" in out
    lst = k.cli("template", "list", check=True).stdout
    assert "base" in lst and "golden" in lst
    show = k.cli("template", "show", "base", check=True).stdout
    assert "/images/base-v1-vda.qcow2" in show
    assert "<name>base</name>" in k.cli("template", "show", "base", "--xml", check=True).stdout
    out = k.cli("vm", "create", "app1", "--template", "base", "--vcpus", "3", "--memory", "768M",
                check=True).stdout
    assert "VM 'app1' created from template 'base' (a linked clone) on host 'lab' and started" \
        in out
    v = k.vms()["app1"]
    assert v["vcpus"] == 3 and v["max_memory_bytes"] == 768 << 20
    bad = k.cli("vm", "create", "app2")
    assert bad.returncode == 2 and "--template" in bad.stderr
    bad = k.cli("vm", "create", "app2", "--template", "base", "--memory", "lots")
    assert bad.returncode == 2 and "--memory" in bad.stderr
    assert k.cli("template", "delete", "base", check=True).returncode == 0
    assert "base" not in k.cli("template", "list", check=True).stdout


def node_with(name, pool_path, volumes):
    """A host with no VMs and a pool at POOL_PATH holding VOLUMES."""
    vols = "".join(f"<volume><name>{v}</name><capacity>2147483648</capacity>"
                   f"<target><format type='qcow2'/></target></volume>" for v in volumes)
    return f"""<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>8</active>
    <nodes>1</nodes><sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>
  <memory>16777216</memory>
  <pool type='dir'><name>{name}</name><uuid>45bb2ad9-388a-cdfe-461a-b8907f6e53f0</uuid>
    <capacity>107374182400</capacity><allocation>0</allocation>
    <available>107374182400</available><target><path>{pool_path}</path></target>{vols}</pool>
</node>
"""


def test_placed_on_the_host_with_the_most_headroom_that_sees_the_images(kanrid_factory,
                                                                        tmp_path):
    lab = tmp_path / "lab.xml"
    lab.write_text(NODE)
    # "shared" sees the template's image under the same path (shared
    # storage) and has twice the memory; "far" has more still, but its
    # pool is elsewhere.
    shared = tmp_path / "shared.xml"
    shared.write_text(node_with("images", "/images", ["web-v1-vda.qcow2"]))
    far = tmp_path / "far.xml"
    far.write_text(node_with("other", "/other", []).replace("16777216", "67108864"))
    k = kanrid_factory(args=["--connect", f"test://{lab}", "--connect", f"test://{shared}",
                             "--connect", f"test://{far}"])
    k.wait_connected(["lab", "shared", "far"])
    k.wait_for(lambda: len(k.vms()) == 3, what="inventory of 3 VMs")
    make_template(k)

    r = k.post("/api/v1/vms", {"template": "web", "name": "placed"})
    assert r.status == 201, r
    assert r.json["vm"]["host"] == "shared"
    assert r.json["placement"].startswith("shared has the most memory left after it")
    # Named, the host is taken as asked.
    r = k.post("/api/v1/vms", {"template": "web", "name": "pinned", "host": "lab"})
    assert r.status == 201 and r.json["vm"]["host"] == "lab" and "placement" not in r.json

    # Nothing fits 64 GiB: every host says why.
    r = k.post("/api/v1/vms", {"template": "web", "name": "huge", "memory_bytes": 64 << 30})
    assert r.status == 409, r
    d = r.json["detail"]
    assert "far: does not see the template's images" in d and "lab:" in d and "shared:" in d
    assert "huge" not in k.vms()


def test_seed_refusals_undo_everything(k):
    make_template(k)
    r = k.post("/api/v1/vms", {"template": "web", "name": "s1", "ssh_keys": ["not a key"]})
    assert r.status == 400 and "ssh_keys[0]" in r.json["detail"], r
    r = k.post("/api/v1/vms", {"template": "web", "name": "s1", "ssh_keys": "ssh-ed25519 AAAA"})
    assert r.status == 400 and "ssh_keys" in r.json["detail"], r
    # The test driver cannot take an uploaded image: the seed is made
    # (genisoimage), its upload refused, and the clone made for it deleted.
    r = k.post("/api/v1/vms", {"template": "web", "name": "s1",
                               "ssh_keys": ["ssh-ed25519 AAAAC3Nza ops@jump"],
                               "user_data": "#cloud-config\npackages: [nginx]\n"})
    assert r.status == 501 and "upload" in r.json["detail"], r
    assert r.json.get("audit_id")
    assert "s1" not in k.vms()
    # Nothing was left behind: the same name works without a seed.
    r = k.post("/api/v1/vms", {"template": "web", "name": "s1"})
    assert r.status == 201, r
