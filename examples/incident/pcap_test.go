package main

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// pcapOf builds a little-endian pcap file of Ethernet frames.
func pcapOf(frames ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for _, f := range frames {
		b = append(b, make([]byte, 8)...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// tcpFrame is an Ethernet frame holding an IPv4 TCP segment with no payload.
func tcpFrame(src, dst netip.AddrPort, flags byte) []byte {
	f := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[20:], src.Port())
	binary.BigEndian.PutUint16(ip[22:], dst.Port())
	ip[20+13] = flags
	return f
}

func TestReadPcap(t *testing.T) {
	client, server := netip.MustParseAddrPort("10.255.0.22:40000"), netip.MustParseAddrPort("10.255.0.18:8081")
	segs, err := readPcap(pcapOf(tcpFrame(client, server, flagSYN), []byte("not ip"), tcpFrame(server, client, flagRST|flagACK)))
	require.NoError(t, err)
	require.Len(t, segs, 2)
	require.Equal(t, "SYN     10.255.0.22:40000 → 10.255.0.18:8081", segs[0].String())
	require.Equal(t, "RST     10.255.0.18:8081 → 10.255.0.22:40000", segs[1].String())
	require.True(t, handshakeReset(segs, client.Addr(), server.Addr()))
	require.False(t, handshakeReset(segs[:1], client.Addr(), server.Addr()), "a SYN alone is not a reset handshake")

	_, err = readPcap(pcapOf(tcpFrame(client, server, flagSYN))[:40])
	require.ErrorContains(t, err, "short record")
	_, err = readPcap([]byte("GIF89a, not a capture at all"))
	require.ErrorContains(t, err, "bad magic")
}

// FuzzReadPcap checks that no file, however broken, makes the reader panic.
func FuzzReadPcap(f *testing.F) {
	f.Add(pcapOf(tcpFrame(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:8081"), flagSYN)))
	f.Add(pcapOf([]byte{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		segs, _ := readPcap(b)
		for _, s := range segs {
			_ = s.String()
		}
	})
}
