// Command vcsim starts govmomi's vSphere simulator (the github.com/vmware/govmomi/simulator
// package) on one address, for Census's VMware collector tests.
//
// Debian's golang-github-vmware-govmomi-dev ships govmomi's library packages, the simulator
// among them, but not its vcsim command, so this is a small stand-in for it with the same
// flag names for what the tests use. Built by scripts/ensure-vcsim.sh in GOPATH mode from
// Debian's sources only.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	model := simulator.VPX()

	listen := flag.String("l", "127.0.0.1:8989", "listen address (host:port; port 0 picks a free one)")
	username := flag.String("username", "user", "the only user name Login accepts")
	password := flag.String("password", "pass", "the only password Login accepts")
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "number of datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "number of clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "number of hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "number of standalone hosts per datacenter")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "number of datastores")
	flag.IntVar(&model.Machine, "vm", model.Machine, "number of virtual machines per resource pool")
	flag.IntVar(&model.Pool, "pool", model.Pool, "number of child resource pools per cluster")
	flag.BoolVar(&model.Autostart, "autostart", model.Autostart, "power on the created VMs")
	flag.Parse()

	if err := model.Create(); err != nil {
		log.Fatalf("vcsim: creating the inventory: %s", err)
	}
	defer model.Remove()

	// A fixed user name and password: the simulator's default accepts any non-empty pair,
	// and the tests need a wrong password to fail as it does on a real vCenter.
	model.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*username, *password)}
	model.Service.TLS = new(tls.Config) // a self-signed certificate for 127.0.0.1, as vcsim's
	model.Service.RegisterEndpoints = true

	server := model.Service.NewServer()
	defer server.Close()

	// The harness waits for this line to learn the address (and port, when -l asked for 0).
	fmt.Printf("VCSIM_URL=%s://%s%s\n", server.URL.Scheme, server.URL.Host, server.URL.Path)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
