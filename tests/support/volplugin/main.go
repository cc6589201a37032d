// Command volplugin is a minimal Docker managed volume plugin for the containerz-py tests.
// Volumes live in memory; each one is backed by a directory under /tmp/volumes inside the
// plugin's rootfs, which Docker maps to the host path it bind-mounts into containers.
package main

import (
	"encoding/json"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

const (
	socketPath  = "/run/docker/plugins/plugin.sock"
	volumesRoot = "/tmp/volumes"
	contentType = "application/vnd.docker.plugins.v1.2+json"
)

type request struct {
	Name string            `json:"Name"`
	Opts map[string]string `json:"Opts,omitempty"`
	ID   string            `json:"ID,omitempty"`
}

type volume struct {
	Name       string            `json:"Name"`
	Mountpoint string            `json:"Mountpoint,omitempty"`
	Status     map[string]string `json:"Status,omitempty"`
}

type driver struct {
	mu      sync.Mutex
	volumes map[string]map[string]string // name -> create options
}

func reply(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", contentType)
	if err := json.NewEncoder(w).Encode(body); err != nil {
		log.Printf("write reply: %v", err)
	}
}

func mountpoint(name string) string { return filepath.Join(volumesRoot, name) }

// handle decodes the request and answers with what fn returns, or with {"Err": ...}.
func (d *driver) handle(mux *http.ServeMux, path string, fn func(request) (map[string]any, string)) {
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		var req request
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				reply(w, map[string]string{"Err": "bad request: " + err.Error()})
				return
			}
		}
		d.mu.Lock()
		body, errText := fn(req)
		d.mu.Unlock()
		if body == nil {
			body = map[string]any{}
		}
		body["Err"] = errText
		reply(w, body)
	})
}

func (d *driver) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/Plugin.Activate", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]any{"Implements": []string{"VolumeDriver"}})
	})
	d.handle(mux, "/VolumeDriver.Create", func(r request) (map[string]any, string) {
		if r.Name == "" || filepath.Base(r.Name) != r.Name {
			return nil, "invalid volume name"
		}
		if _, ok := d.volumes[r.Name]; !ok {
			d.volumes[r.Name] = r.Opts
		}
		return nil, ""
	})
	d.handle(mux, "/VolumeDriver.Remove", func(r request) (map[string]any, string) {
		delete(d.volumes, r.Name)
		if r.Name != "" && filepath.Base(r.Name) == r.Name {
			os.RemoveAll(mountpoint(r.Name))
		}
		return nil, ""
	})
	d.handle(mux, "/VolumeDriver.Get", func(r request) (map[string]any, string) {
		if _, ok := d.volumes[r.Name]; !ok {
			return nil, "no such volume"
		}
		return map[string]any{"Volume": volume{Name: r.Name, Mountpoint: mountpoint(r.Name), Status: map[string]string{}}}, ""
	})
	d.handle(mux, "/VolumeDriver.List", func(request) (map[string]any, string) {
		list := make([]volume, 0, len(d.volumes))
		for name := range d.volumes {
			list = append(list, volume{Name: name, Mountpoint: mountpoint(name)})
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		return map[string]any{"Volumes": list}, ""
	})
	d.handle(mux, "/VolumeDriver.Path", func(r request) (map[string]any, string) {
		if _, ok := d.volumes[r.Name]; !ok {
			return nil, "no such volume"
		}
		return map[string]any{"Mountpoint": mountpoint(r.Name)}, ""
	})
	d.handle(mux, "/VolumeDriver.Mount", func(r request) (map[string]any, string) {
		if _, ok := d.volumes[r.Name]; !ok {
			return nil, "no such volume"
		}
		if err := os.MkdirAll(mountpoint(r.Name), 0o755); err != nil {
			return nil, err.Error()
		}
		return map[string]any{"Mountpoint": mountpoint(r.Name)}, ""
	})
	d.handle(mux, "/VolumeDriver.Unmount", func(request) (map[string]any, string) { return nil, "" })
	mux.HandleFunc("/VolumeDriver.Capabilities", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]any{"Capabilities": map[string]string{"Scope": "local"}})
	})
	return mux
}

func main() {
	if err := os.MkdirAll(filepath.Dir(socketPath), 0o755); err != nil {
		log.Fatal(err)
	}
	os.Remove(socketPath)
	listener, err := net.Listen("unix", socketPath)
	if err != nil {
		log.Fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		listener.Close()
		os.Exit(0)
	}()
	d := &driver{volumes: map[string]map[string]string{}}
	log.Printf("volplugin listening on %s", socketPath)
	if err := http.Serve(listener, d.routes()); err != nil {
		log.Print(err)
	}
}
