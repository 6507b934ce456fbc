-- Wireshark / tshark dissector for the DVA tunnel protocol (docs/protocol.md).
-- Use:  tshark -X lua_script:tools/wireshark/dva.lua -r capture.pcap -Y dva
--       (or copy to ~/.local/lib/wireshark/plugins/). The UDP port is a preference (default 6090);
--       tshark -o dva.port:7000 picks another one.
local dva = Proto("dva", "DVA tunnel")

local types    = { [0] = "DISPATCH", [1] = "HANDOFF", [2] = "EGRESS", [3] = "CONTROL" }
local handoffs = { [0] = "NONE", [1] = "PUNT", [2] = "CLAIM", [3] = "BROADCAST", [4] = "STEER", [5] = "RESOLVE" }
local hooks    = { [0] = "NONE", [1] = "PREROUTING", [2] = "INPUT", [3] = "FORWARD", [4] = "OUTPUT", [5] = "POSTROUTING" }
local tables   = { [0] = "NONE", [1] = "raw", [2] = "mangle", [3] = "nat", [4] = "filter" }

local f = dva.fields
f.version  = ProtoField.uint8("dva.version", "Version", base.DEC)
f.flags    = ProtoField.uint8("dva.flags", "Flags", base.HEX)
f.secure   = ProtoField.bool("dva.flags.secure", "Secure (SEQ and TAG present)")
f.encrypted= ProtoField.bool("dva.flags.encrypted", "Inner frame encrypted")
f.keyphase = ProtoField.uint8("dva.flags.key_phase", "Key phase", base.DEC)
f.dnode    = ProtoField.uint16("dva.dnode", "DNODE (receiver)", base.DEC)
f.hnode    = ProtoField.uint16("dva.hnode", "HNODE (sender)", base.DEC)
f.seq      = ProtoField.uint64("dva.seq", "SEQ", base.DEC)
f.type     = ProtoField.uint8("dva.type", "TYPE", base.DEC, types)
f.handoff  = ProtoField.uint8("dva.handoff", "HANDOFF", base.DEC, handoffs)
f.hook     = ProtoField.uint8("dva.hook", "HOOK", base.DEC, hooks)
f.table    = ProtoField.uint8("dva.table", "TABLE", base.DEC, tables)
f.trr      = ProtoField.bool("dva.trr", "T (record route)")
f.era      = ProtoField.uint8("dva.era", "ERA", base.DEC)
f.hdrsize  = ProtoField.uint8("dva.hdr_size", "HDR SIZE (32-bit words)", base.DEC)
f.ttl      = ProtoField.uint8("dva.ttl", "TTL", base.DEC)
f.snode    = ProtoField.uint16("dva.snode", "SNODE (ingress dispatcher)", base.DEC)
f.ifid     = ProtoField.uint8("dva.ifid", "IFID (shared interface)", base.DEC)
f.nids     = ProtoField.uint8("dva.nids", "NIDS", base.DEC)
f.nid      = ProtoField.uint16("dva.nid", "Node id", base.DEC)
f.nidlist  = ProtoField.string("dva.nid_list", "Node-id list")
f.vlan     = ProtoField.uint16("dva.vlan_tci", "VLAN TCI", base.HEX)
f.tag      = ProtoField.bytes("dva.tag", "TAG")

local p_port = 6090
dva.prefs.port = Pref.uint("UDP port", p_port, "Tunnel UDP destination port")

local eth = Dissector.get("eth_withoutfcs")

function dva.dissector(buf, pinfo, tree)
    if buf:len() < 12 then return 0 end
    local version = buf(0, 1):bitfield(0, 4)
    if version ~= 1 then return 0 end
    pinfo.cols.protocol = "DVA"
    local t = tree:add(dva, buf(), "DVA tunnel")
    local flags = buf(0, 1):bitfield(4, 4)
    local secure = bit.band(flags, 8) ~= 0
    t:add(f.version, buf(0, 1), version)
    local ft = t:add(f.flags, buf(0, 1), flags)
    ft:add(f.secure, buf(0, 1), secure)
    ft:add(f.encrypted, buf(0, 1), bit.band(flags, 4) ~= 0)
    ft:add(f.keyphase, buf(0, 1), bit.band(flags, 2) ~= 0 and 1 or 0)
    t:add(f.dnode, buf(1, 2), buf(1, 2):bitfield(0, 12))
    t:add(f.hnode, buf(2, 2), buf(2, 2):bitfield(4, 12))
    local o = 4
    if secure then
        t:add(f.seq, buf(o, 8))
        o = o + 8
    end
    if buf:len() < o + 8 then return 0 end
    local ty = buf(o, 1):bitfield(0, 4)
    local ho = buf(o, 1):bitfield(4, 4)
    t:add(f.type, buf(o, 1), ty)
    t:add(f.handoff, buf(o, 1), ho)
    t:add(f.hook, buf(o + 1, 1), buf(o + 1, 1):bitfield(0, 4))
    t:add(f.table, buf(o + 1, 1), buf(o + 1, 1):bitfield(4, 4))
    t:add(f.trr, buf(o + 2, 1), buf(o + 2, 1):bitfield(0, 1) == 1)
    t:add(f.era, buf(o + 2, 1), buf(o + 2, 1):bitfield(1, 1))
    local hdr = buf(o + 2, 1):bitfield(2, 6)
    t:add(f.hdrsize, buf(o + 2, 1), hdr)
    t:add(f.ttl, buf(o + 3, 1))
    t:add(f.snode, buf(o + 4, 2), buf(o + 4, 2):bitfield(0, 12))
    t:add(f.ifid, buf(o + 5, 2), buf(o + 5, 2):bitfield(4, 8))
    local n = buf(o + 6, 1):bitfield(4, 4)
    t:add(f.nids, buf(o + 6, 1), n)
    local list = {}
    local p = o + 8
    for i = 0, n - 1 do
        if buf:len() < p + 2 then break end
        local id = bit.band(buf(p, 2):uint(), 0x0FFF)
        t:add(f.nid, buf(p, 2), id)
        list[#list + 1] = tostring(id)
        p = p + 2
    end
    t:add(f.nidlist, table.concat(list, ","))
    p = o + 4 + hdr * 4
    if ty == 3 or buf:len() < p + 2 then
        pinfo.cols.info = string.format("DVA %s %s %d->%d", types[ty] or "?", handoffs[ho] or "?",
            buf(2, 2):bitfield(4, 12), buf(1, 2):bitfield(0, 12))
        return buf:len()
    end
    t:add(f.vlan, buf(p, 2))
    p = p + 2
    local last = buf:len()
    if secure then
        last = last - 16
        if last >= p then t:add(f.tag, buf(last, 16)) end
    end
    pinfo.cols.info = string.format("DVA %s %s %d->%d era %d ttl %d",
        types[ty] or "?", handoffs[ho] or "?", buf(2, 2):bitfield(4, 12), buf(1, 2):bitfield(0, 12),
        buf(o + 2, 1):bitfield(1, 1), buf(o + 3, 1):uint())
    if last > p and not (bit.band(flags, 4) ~= 0) then
        eth:call(buf(p, last - p):tvb(), pinfo, tree)
    end
    return buf:len()
end

local registered = nil
function dva.init()
    local udp = DissectorTable.get("udp.port")
    if registered then udp:remove(registered, dva) end
    registered = dva.prefs.port
    udp:add(registered, dva)
end
