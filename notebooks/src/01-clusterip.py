# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: lang,tags,-all
#     main_language: python
#     notebook_metadata_filter: -all
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown] lang="en"
# # Lab 1 - ClusterIP: one stable address for a set of pods
#
# **You will learn to**
# - put a ClusterIP Service (the default type) in front of the pods of a Deployment;
# - find the pods behind a Service: its selector and its endpoints;
# - reach the Service from another pod by cluster IP and by DNS name;
# - see what a selector that matches nothing does (no endpoints), and watch endpoints change live;
# - write a ClusterIP Service yourself and have it graded.

# %% [markdown] lang="ko"
# # 실습 1 - ClusterIP: 파드 집합을 위한 고정 주소
#
# **이 실습에서 배우는 것**
# - 디플로이먼트의 파드 앞에 ClusterIP 서비스(기본 타입) 두기
# - 서비스 뒤의 파드 찾기: 셀렉터와 엔드포인트
# - 다른 파드에서 클러스터 IP와 DNS 이름으로 서비스에 접근하기
# - 아무 파드와도 맞지 않는 셀렉터가 어떻게 되는지(엔드포인트 없음) 확인하고, 엔드포인트가
#   바뀌는 모습을 실시간으로 보기
# - ClusterIP 서비스를 직접 작성하고 채점받기

# %% [markdown] lang="en"
# ## 1. Set up
#
# Connects to the lab cluster, starts the namespace `lab-clusterip` from scratch and applies the web
# Deployment `deploy-test01` (three nginx pods, label `app.kubernetes.io/name: web-deploy`) and the
# client pod `nginx01`.

# %% [markdown] lang="ko"
# ## 1. 실습 준비
#
# 실습 클러스터에 연결하고 `lab-clusterip` 네임스페이스를 새로 만든 뒤, 웹 디플로이먼트
# `deploy-test01`(nginx 파드 3개, 라벨 `app.kubernetes.io/name: web-deploy`)과 클라이언트 파드
# `nginx01`을 배포한다.

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("clusterip")

# %%
# !kubectl get all -n lab-clusterip

# %% [markdown] lang="en"
# ## 2. The concept
#
# Pods come and go, and each new pod gets a new IP (the intro notebook shows it). A **Service** gives
# a set of pods one stable virtual IP and a DNS name, and spreads the connections over them.
# It finds its pods by **label selector**: every ready pod whose labels match `spec.selector`
# becomes an **endpoint** of the Service, whether a Deployment made it or not.
#
# **ClusterIP** is the default type: if `type` is omitted, you get a ClusterIP Service. Its address
# is reachable only from inside the cluster (other pods, the nodes), which is what internal back
# ends and databases need.
#
# ```mermaid
# flowchart LR
#   c(["nginx01 (client pod)"]) -- "http://web-service:80<br/>or CLUSTER-IP:80" --> svc["Service web-service<br/>type ClusterIP, port 80"]
#   svc -- "targetPort 80" --> p1["deploy-test01 pod 1<br/>POD-IP:80"]
#   svc -- "targetPort 80" --> p2["deploy-test01 pod 2<br/>POD-IP:80"]
#   svc -- "targetPort 80" --> p3["deploy-test01 pod 3<br/>POD-IP:80"]
#   out(["a machine outside the cluster"]) -. "no route" .-> svc
# ```
#
# Under the hood, kube-proxy on every node turns the cluster IP and port into packet-rewriting rules
# (iptables or nftables). In iptables mode each new connection picks an endpoint **at random**; the
# round-robin you may read about belonged to the userspace mode, removed in Kubernetes 1.26. The
# cluster IP exists only as those rules: it answers on the Service's ports, never to `ping`.

# %% [markdown] lang="ko"
# ## 2. 개념
#
# 파드는 일시적(Ephemeral)인 리소스여서 언제든 삭제되고 다시 생성되며, 새 파드는 새 IP를 받는다
# (인트로 노트북에서 직접 확인한다). **서비스(Service)** 는 파드 집합에 고정된 가상 IP와 DNS 이름을
# 주고, 들어오는 연결을 파드들에 나누어 준다. 서비스는 **레이블 셀렉터**로 파드를 찾는다.
# 라벨이 `spec.selector`와 일치하는 준비된(ready) 파드는 디플로이먼트가 만든 것이든 아니든 모두
# 서비스의 **엔드포인트**가 된다.
#
# **ClusterIP**는 서비스의 기본 타입이다. `type`을 생략하면 ClusterIP로 생성된다. 이 주소는
# 클러스터 내부(다른 파드, 노드)에서만 접근할 수 있어서 내부 백엔드나 데이터베이스 통신에 주로
# 쓰인다.
#
# ```mermaid
# flowchart LR
#   c(["nginx01 (클라이언트 파드)"]) -- "http://web-service:80<br/>또는 CLUSTER-IP:80" --> svc["서비스 web-service<br/>타입 ClusterIP, port 80"]
#   svc -- "targetPort 80" --> p1["deploy-test01 파드 1<br/>POD-IP:80"]
#   svc -- "targetPort 80" --> p2["deploy-test01 파드 2<br/>POD-IP:80"]
#   svc -- "targetPort 80" --> p3["deploy-test01 파드 3<br/>POD-IP:80"]
#   out(["클러스터 외부 컴퓨터"]) -. "접근 불가" .-> svc
# ```
#
# 내부적으로는 각 노드의 kube-proxy가 클러스터 IP와 포트를 패킷 변환 규칙(iptables 또는
# nftables)으로 만든다. iptables 모드에서는 새 연결마다 엔드포인트를 **무작위로** 고른다. 흔히
# 설명되는 라운드 로빈은 쿠버네티스 1.26에서 제거된 userspace 모드의 방식이다. 클러스터 IP는 이
# 규칙으로만 존재하므로 서비스 포트로는 응답하지만 `ping`에는 응답하지 않는다.

# %% [markdown] lang="en"
# ## 3. Create the Service
#
# The source material's manifest. `port: 80` is the Service's port; `targetPort` is omitted, so it
# defaults to the same number, 80, which is where nginx listens.

# %% [markdown] lang="ko"
# ## 3. 서비스 생성
#
# 원본 글의 매니페스트다. `port: 80`은 서비스가 노출하는 포트이고, `targetPort`를 생략했으므로
# 같은 번호인 80이 되며 nginx가 이 포트에서 대기한다.

# %%
# !cat ../../manifests/clusterip/service-test01.yml

# %%
# !kubectl apply -n lab-clusterip -f ../../manifests/clusterip/service-test01.yml
lw.wait_endpoints("lab-clusterip", "web-service", 3)

# %% [markdown] lang="en"
# `web-service` got a `CLUSTER-IP`; `EXTERNAL-IP` is `<none>`: nothing outside the cluster can reach
# it. The endpoints are the three pod IPs the Service sends traffic to. (`kubectl get endpoints`
# still works but is deprecated since 1.33; EndpointSlices are what the cluster uses now.)

# %% [markdown] lang="ko"
# `web-service`에 `CLUSTER-IP`가 할당되었고 `EXTERNAL-IP`는 `<none>`이다. 클러스터 외부로는 노출되지
# 않았다는 뜻이다. 엔드포인트는 서비스가 트래픽을 보내는 파드 IP 3개다. (`kubectl get endpoints`는
# 아직 동작하지만 1.33부터 deprecated이며, 지금 클러스터가 실제로 쓰는 것은 EndpointSlice다.)

# %%
# !kubectl get all -n lab-clusterip
# !kubectl get endpoints -n lab-clusterip web-service
# !kubectl get endpointslices -n lab-clusterip
# !kubectl get pod -n lab-clusterip -o wide

# %%
nb.require("clusterip", "service/web-service", section="3")
lw.port_explorer("lab-clusterip", "web-service")
lw.path_diagram("lab-clusterip", "web-service")

# %% [markdown] lang="en"
# ## 4. Call the Service from another pod
#
# As in the source material, from inside the client pod `nginx01`: first the cluster IP, then the
# name. The short name `web-service` works from the same namespace; from anywhere in the cluster
# the full name is `web-service.lab-clusterip.svc.cluster.local`.

# %% [markdown] lang="ko"
# ## 4. 다른 파드에서 서비스 호출하기
#
# 원본 글처럼 클라이언트 파드 `nginx01` 안에서 먼저 클러스터 IP로, 다음에는 이름으로 요청을
# 보낸다. 같은 네임스페이스에서는 짧은 이름 `web-service`로 충분하고, 클러스터 어디에서든 쓰는
# 전체 이름은 `web-service.lab-clusterip.svc.cluster.local`이다.

# %% tags=["needs-exec"]
# cluster_ip = !kubectl get svc -n lab-clusterip web-service -o jsonpath={{.spec.clusterIP}}
# !kubectl exec -n lab-clusterip nginx01 -- curl -sv http://{cluster_ip[0]}
# !kubectl exec -n lab-clusterip nginx01 -- curl -s http://web-service.lab-clusterip.svc.cluster.local

# %% tags=["needs-exec"]
labs.lookup("clusterip", "web-service")

# %% [markdown] lang="en"
# Thirty requests to the name: which pod answered each?

# %% [markdown] lang="ko"
# 서비스 이름으로 요청 30개를 보내고, 각 요청에 어느 파드가 응답했는지 본다.

# %% tags=["needs-exec"]
nb.require("clusterip", "service/web-service", "pod/nginx01", section="3")
lw.answers_chart(labs.probe("clusterip", "http://web-service/", 30))

# %% [markdown] lang="en"
# ## 5. Break it
#
# **A selector with a typo.** `web-service-typo` selects `web-deplyo`: no pod has that label, so the
# Service gets a cluster IP but no endpoints. Requests to it are refused ("Connection refused"),
# since kube-proxy rejects traffic to a Service without endpoints.

# %% [markdown] lang="ko"
# ## 5. 일부러 망가뜨려 보기
#
# **오타가 있는 셀렉터.** `web-service-typo`는 `web-deplyo`를 선택한다. 이런 라벨을 가진 파드가
# 없으므로 서비스에 클러스터 IP는 할당되지만 엔드포인트는 비어 있다. 엔드포인트가 없는 서비스로
# 가는 트래픽은 kube-proxy가 거부하므로 요청은 "Connection refused"가 된다.

# %%
typo = nb.scratch("break-selector.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-typo
spec:
  selector:
    app.kubernetes.io/name: web-deplyo
  ports:
    - port: 80
""")
# !kubectl apply -n lab-clusterip -f work/break-selector.yml
# !kubectl get endpoints -n lab-clusterip web-service-typo
# !kubectl describe service -n lab-clusterip web-service-typo

# %% [markdown] lang="en"
# The live table follows the endpoints of `web-service-typo` through a watch: empty for now. The
# next cell fixes the selector in place with `kubectl patch`; the three pods appear in the table
# as soon as the endpoints controller sees they match.

# %% [markdown] lang="ko"
# 아래 실시간 표는 watch로 `web-service-typo`의 엔드포인트를 따라간다. 지금은 비어 있다. 다음 셀에서
# `kubectl patch`로 셀렉터를 고치면, 엔드포인트 컨트롤러가 파드가 일치하는 것을 확인하는 즉시 파드
# 3개가 표에 나타난다.

# %%
typo_endpoints = lw.endpoints_table("lab-clusterip", "web-service-typo")

# %%
# !kubectl patch service -n lab-clusterip web-service-typo -p '{"spec":{"selector":{"app.kubernetes.io/name":"web-deploy"}}}'
typo_endpoints.wait(lambda slices: sum(len(s.get("endpoints") or []) for s in slices.values()) == 3,
                    timeout=30)
# !kubectl get endpoints -n lab-clusterip web-service-typo

# %% [markdown] lang="en"
# **A pod disappears.** Delete one web pod while the table watches `web-service`: its endpoint goes
# (first *terminating*, then removed), and the Deployment's replacement, with a new name and a new
# IP, joins once it is ready. Clients keep using the same cluster IP throughout.

# %% [markdown] lang="ko"
# **파드가 사라지면.** 표가 `web-service`를 지켜보는 동안 웹 파드 하나를 삭제한다. 그 파드의
# 엔드포인트가 빠지고(먼저 *종료 중*, 그다음 삭제), 디플로이먼트가 새로 만든 파드가 새 이름과 새
# IP로 준비되는 대로 들어온다. 그동안 클라이언트는 같은 클러스터 IP를 계속 쓴다.

# %%
typo_endpoints.stop()
# !kubectl delete -n lab-clusterip -f work/break-selector.yml
web_endpoints = lw.endpoints_table("lab-clusterip", "web-service")

# %%
# victim = !kubectl get pod -n lab-clusterip -l app.kubernetes.io/name=web-deploy -o name
# !kubectl delete -n lab-clusterip {victim[0]} --wait=false
lw.wait_rollout("lab-clusterip", "deploy-test01")
web_endpoints.wait(lambda slices: f"{victim[0].split('/')[-1]}" not in str(slices), timeout=60)
# !kubectl get pod -n lab-clusterip -o wide

# %% [markdown] lang="en"
# ## 6. Clear the walkthrough's Service
#
# The challenge asks you to write `web-service` yourself, so delete the source material's.

# %% [markdown] lang="ko"
# ## 6. 실습용 서비스 삭제
#
# 도전 과제에서 `web-service`를 직접 작성하므로 원본 글의 서비스는 삭제한다.

# %%
web_endpoints.stop()
# !kubectl delete -n lab-clusterip -f ../../manifests/clusterip/service-test01.yml

# %% [markdown] lang="en"
# ## 7. Challenge
#
# Replace the `TODO`s in the cell below with a Service that
#
# - is named `web-service` and has type ClusterIP (written out, even though it is the default);
# - selects the pods of `deploy-test01`;
# - listens on port 80 and sends to the container port named `http`.
#
# Running the cell writes your YAML to `work/web-service.yml` and applies it.

# %% [markdown] lang="ko"
# ## 7. 도전 과제
#
# 아래 셀의 `TODO`를 채워 다음 조건의 서비스를 만든다.
#
# - 이름은 `web-service`, 타입은 ClusterIP(기본값이지만 직접 적는다)
# - `deploy-test01`의 파드를 선택할 것
# - 80번 포트로 받아 이름이 `http`인 컨테이너 포트로 보낼 것
#
# 셀을 실행하면 작성한 YAML이 `work/web-service.yml`에 저장되고 적용된다.

# %% tags=["challenge"]
my_service = """
apiVersion: v1
kind: Service
metadata:
  name: TODO
spec:
  type: TODO
  selector:
    TODO: TODO
  ports:
    - protocol: TCP
      port: TODO
      targetPort: TODO
"""
path = nb.my_manifest("web-service.yml", my_service)
if path:
    labs.apply("clusterip", [path])

# %%
lw.hints(en=["metadata.name is web-service; spec.type is ClusterIP.",
             "Copy the label from the pod template of deploy-test01: app.kubernetes.io/name: web-deploy.",
             "port: 80 is the Service's port; targetPort: http names the container's port 80."],
         ko=["metadata.name은 web-service, spec.type은 ClusterIP다.",
             "deploy-test01의 파드 템플릿에 있는 라벨을 그대로 쓴다: app.kubernetes.io/name: web-deploy",
             "port: 80은 서비스의 포트이고, targetPort: http는 컨테이너의 80번 포트 이름이다."])

# %% [markdown] lang="en"
# ## 8. Check

# %% [markdown] lang="ko"
# ## 8. 채점

# %% tags=["check"]
labs.check("clusterip")

# %% [markdown] lang="en"
# ## 9. Clean up
#
# Deletes the namespace `lab-clusterip` and everything in it; `work/` keeps your file.

# %% [markdown] lang="ko"
# ## 9. 리소스 정리
#
# `lab-clusterip` 네임스페이스와 그 안의 모든 리소스를 삭제한다. `work/`의 파일은 남는다.

# %%
lw.stop_all()
labs.reset("clusterip")
