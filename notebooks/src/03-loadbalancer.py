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
# # Lab 3 - LoadBalancer: an external address for a Service
#
# **You will learn to**
# - create a LoadBalancer Service and see that it is a NodePort and a ClusterIP Service as well;
# - understand why `EXTERNAL-IP` stays `<pending>` on a cluster without a load-balancer controller;
# - give the Service an external address by hand with `externalIPs`, as the source material does;
# - reach it on the external address, on every node's nodePort and on the cluster IP;
# - write a LoadBalancer Service yourself and have it graded.

# %% [markdown] lang="ko"
# # 실습 3 - LoadBalancer: 서비스에 외부 주소 부여하기
#
# **이 실습에서 배우는 것**
# - LoadBalancer 서비스를 만들고, 이 서비스가 NodePort와 ClusterIP 기능도 함께 가진다는 점 확인하기
# - 로드 밸런서 컨트롤러가 없는 클러스터에서 `EXTERNAL-IP`가 `<pending>`으로 남는 이유 이해하기
# - 원본 글처럼 `externalIPs`로 외부 주소를 직접 지정하기
# - 외부 주소, 모든 노드의 nodePort, 클러스터 IP로 접근해 보기
# - LoadBalancer 서비스를 직접 작성하고 채점받기

# %% [markdown] lang="en"
# ## 1. Set up

# %% [markdown] lang="ko"
# ## 1. 실습 준비

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("loadbalancer")

# %% [markdown] lang="en"
# ## 2. The concept
#
# A LoadBalancer Service asks the platform for a load balancer in front of the cluster. On a cloud
# (AWS, GCP, Azure...) a controller creates one, and writes its address into the Service's
# `status.loadBalancer`; `kubectl get svc` shows it as `EXTERNAL-IP`. Each type builds on the one
# before: a LoadBalancer Service also gets a nodePort on every node (where the load balancer sends
# traffic) and a cluster IP.
#
# kind clusters, VMs on a laptop and the embedded cluster have no such controller: the Service is
# created, but `EXTERNAL-IP` stays `<pending>` forever. The source material works around it with
# `spec.externalIPs`: it names a node's address itself, and kube-proxy on that node answers the
# Service's port there. `externalIPs` is a separate feature that any Service type can use; many
# production clusters forbid it (the `DenyServiceExternalIPs` admission plugin) because any user who
# can create Services could intercept traffic to any address. On a real bare-metal cluster,
# MetalLB or a similar controller fills `status.loadBalancer` instead.
#
# **Kubernetes has moved on here.** Kubernetes 1.36 deprecated `spec.externalIPs` (KEP-5707,
# because of exactly that interception risk, CVE-2020-8554): the API server now answers every
# create or update that sets it with `Warning: spec.externalIPs is deprecated and may no longer be
# implemented in some clusters` (you will see it in section 4), and a feature gate that is off by
# default is planned for 1.40, with removal after that. This lab keeps the source material's method
# because you will meet it in existing clusters and books. The current way is a load-balancer
# implementation that fills `status.loadBalancer.ingress`, so `EXTERNAL-IP` comes from the
# Service's status, not its spec: on kind, `cloud-provider-kind` (which kind's own documentation
# recommends); on bare metal, MetalLB; in a cloud, the provider's controller.
#
# ```mermaid
# flowchart LR
#   ext(["client"]) -- "EXTERNAL-IP:80<br/>(a node's address)" --> svc
#   np(["client"]) -- "any NODE_IP:31002" --> svc
#   inside(["nginx01"]) -- "CLUSTER-IP:80" --> svc["Service web-service-loadbalancer<br/>type LoadBalancer<br/>port 80, nodePort 31002"]
#   svc -- "targetPort 80" --> p1["deploy-test01 pod"]
#   svc -- "targetPort 80" --> p2["deploy-test01 pod"]
#   svc -- "targetPort 80" --> p3["deploy-test01 pod"]
# ```

# %% [markdown] lang="ko"
# ## 2. 개념
#
# LoadBalancer 서비스는 플랫폼에 클러스터 앞단의 로드 밸런서를 요청한다. 클라우드(AWS, GCP,
# Azure 등)에서는 컨트롤러가 로드 밸런서를 프로비저닝하고 그 주소를 서비스의
# `status.loadBalancer`에 기록하며, `kubectl get svc`에는 `EXTERNAL-IP`로 표시된다. 포함 관계도
# 기억하자. LoadBalancer는 NodePort 기능을, NodePort는 ClusterIP 기능을 포함한다. 즉 LoadBalancer
# 서비스를 만들면 모든 노드의 nodePort(로드 밸런서가 트래픽을 보내는 곳)와 클러스터 IP가 함께
# 생긴다.
#
# kind 클러스터, 개인 PC의 VM, 임베디드 클러스터에는 이런 컨트롤러가 없다. 서비스는 생성되지만
# `EXTERNAL-IP`는 계속 `<pending>`으로 남는다. 원본 글은 `spec.externalIPs`로 이를 해결한다.
# 노드의 주소를 직접 지정하면 그 노드의 kube-proxy가 그 주소에서 서비스 포트로 응답한다.
# `externalIPs`는 LoadBalancer 전용이 아니라 어떤 타입의 서비스에도 쓸 수 있는 별도 기능이며,
# 서비스를 만들 수 있는 사용자가 임의 주소로 가는 트래픽을 가로챌 수 있어서 운영 클러스터에서는
# `DenyServiceExternalIPs` 어드미션 플러그인으로 막아 두는 경우가 많다. 실제 베어메탈 클러스터에서는
# MetalLB 같은 컨트롤러가 `status.loadBalancer`를 채워 준다.
#
# **원본 글 이후 바뀐 점.** 쿠버네티스 1.36은 바로 이 가로채기 위험(CVE-2020-8554) 때문에
# `spec.externalIPs`를 지원 중단(deprecated) 예정으로 지정했다(KEP-5707). 이제 API 서버는 이
# 필드를 지정한 생성과 수정마다 `Warning: spec.externalIPs is deprecated and may no longer be
# implemented in some clusters` 경고를 돌려준다(4절에서 직접 보게 된다). 1.40에서는 기본으로 꺼진
# 기능 게이트가, 그 뒤에는 제거가 예정되어 있다. 기존 클러스터와 책에서 여전히 만나게 되므로 이
# 실습은 원본 글의 방법을 그대로 다룬다. 지금 권장되는 방법은 `status.loadBalancer.ingress`를 채워
# 주는 로드 밸런서 구현체를 쓰는 것이며, 이때 `EXTERNAL-IP`는 서비스의 spec이 아니라 status에서
# 온다. kind에서는 kind 공식 문서가 권하는 `cloud-provider-kind`, 베어메탈에서는 MetalLB, 클라우드에서는
# 제공자의 컨트롤러가 그 역할을 한다.
#
# ```mermaid
# flowchart LR
#   ext(["클라이언트"]) -- "EXTERNAL-IP:80<br/>(노드 주소)" --> svc
#   np(["클라이언트"]) -- "아무 NODE_IP:31002" --> svc
#   inside(["nginx01"]) -- "CLUSTER-IP:80" --> svc["서비스 web-service-loadbalancer<br/>타입 LoadBalancer<br/>port 80, nodePort 31002"]
#   svc -- "targetPort 80" --> p1["deploy-test01 파드"]
#   svc -- "targetPort 80" --> p2["deploy-test01 파드"]
#   svc -- "targetPort 80" --> p3["deploy-test01 파드"]
# ```

# %% [markdown] lang="en"
# ## 3. A LoadBalancer without a load balancer
#
# First without `externalIPs` and without a fixed nodePort: watch `EXTERNAL-IP` and `PORT(S)`.

# %% [markdown] lang="ko"
# ## 3. 로드 밸런서 없는 LoadBalancer
#
# 먼저 `externalIPs`도, 고정 nodePort도 없이 만들어 보고 `EXTERNAL-IP`와 `PORT(S)`를 살펴본다.

# %%
pending = nb.scratch("lb-pending.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-lb-pending
spec:
  type: LoadBalancer
  selector:
    app.kubernetes.io/name: web-deploy
  ports:
    - port: 80
      targetPort: 80
""")
# !kubectl apply -n lab-loadbalancer -f work/lb-pending.yml
# !kubectl get svc -n lab-loadbalancer web-service-lb-pending

# %% [markdown] lang="en"
# `EXTERNAL-IP` is `<pending>`: nobody will ever fill it in here. `PORT(S)` reads `80:3xxxx/TCP`: a
# nodePort was allocated anyway, at random, since the manifest named none (`kubectl describe` shows
# it as `NodePort:`). Delete it before the real one.

# %% [markdown] lang="ko"
# `EXTERNAL-IP`가 `<pending>`이다. 이 클러스터에서는 누구도 이 값을 채워 주지 않는다. `PORT(S)`는
# `80:3xxxx/TCP`로 표시된다. 매니페스트에 nodePort를 적지 않았으므로 임의의 nodePort가 자동으로
# 할당된 것이다(`kubectl describe`에서는 `NodePort:` 항목으로 보인다). 다음 단계 전에 삭제한다.

# %%
# !kubectl describe svc -n lab-loadbalancer web-service-lb-pending
# !kubectl delete -n lab-loadbalancer -f work/lb-pending.yml

# %% [markdown] lang="en"
# ## 4. externalIPs, as in the source material
#
# The source material wrote its VM's address (`10.0.2.4`) into `externalIPs`. Here the address of
# your cluster's control-plane node goes there: the lab's manifest says `${NODE_IP}`, and
# `labs.render` fills it in (in a terminal: `python -m labs render loadbalancer | kubectl apply -n lab-loadbalancer -f -`).

# %% [markdown] lang="ko"
# ## 4. 원본 글처럼 externalIPs 지정하기
#
# 원본 글에서는 VM 주소(`10.0.2.4`)를 `externalIPs`에 적었다. 여기서는 실습 클러스터의 컨트롤 플레인
# 노드 주소를 넣는다. 실습 매니페스트에는 `${NODE_IP}`로 적혀 있고, `labs.render`가 실제 값으로
# 채운다(터미널에서는 `python -m labs render loadbalancer | kubectl apply -n lab-loadbalancer -f -`).

# %%
print("NODE_IP =", labs.node_ip())
# !cat ../../manifests/loadbalancer/service-test01.yml
nb.scratch("service-test01.yml", labs.render("loadbalancer", "loadbalancer/service-test01.yml"))
# !grep -A1 "^  externalIPs" work/service-test01.yml
# !kubectl apply -n lab-loadbalancer -f work/service-test01.yml
lw.wait_endpoints("lab-loadbalancer", "web-service-loadbalancer", 3)

# %%
# !kubectl get all -n lab-loadbalancer
# !kubectl get pod -n lab-loadbalancer -o wide

# %% [markdown] lang="en"
# `EXTERNAL-IP` now shows the node's address, and `PORT(S)` `80:31002/TCP`. The port explorer and
# the diagram of your cluster show the three ways in.

# %% [markdown] lang="ko"
# 이제 `EXTERNAL-IP`에 노드 주소가, `PORT(S)`에 `80:31002/TCP`가 표시된다. 포트 탐색기와 이
# 클러스터의 도식에서 들어오는 세 가지 경로를 확인한다.

# %%
nb.require("loadbalancer", "service/web-service-loadbalancer", section="4")
lw.port_explorer("lab-loadbalancer", "web-service-loadbalancer")
lw.path_diagram("lab-loadbalancer", "web-service-loadbalancer")

# %% [markdown] lang="en"
# ## 5. Send requests
#
# To the external IP on port 80, to a worker's address on nodePort 31002, and to the cluster IP:
# the same three pods answer each time.

# %% [markdown] lang="ko"
# ## 5. 요청 보내기
#
# 외부 IP의 80번 포트, 워커 노드 주소의 nodePort 31002, 클러스터 IP로 각각 요청을 보낸다. 세 경우
# 모두 같은 파드 3개가 응답한다.

# %% tags=["needs-exec"]
node_ip = labs.node_ip()
# !kubectl exec -n lab-loadbalancer nginx01 -- curl -s http://{node_ip}:80
# !kubectl exec -n lab-loadbalancer nginx01 -- curl -s http://{node_ip}:31002
# !kubectl exec -n lab-loadbalancer nginx01 -- curl -s http://web-service-loadbalancer

# %% tags=["needs-exec"]
nb.require("loadbalancer", "service/web-service-loadbalancer", "pod/nginx01", section="4")
lw.answers_chart(labs.probe("loadbalancer", f"http://{labs.node_ip()}:80/", 20))

# %% [markdown] lang="en"
# ## 6. Break it
#
# **An external IP that cannot be one.** The API server validates `externalIPs`: a loopback address
# such as 127.0.0.1 is refused, with the field and the reason.

# %% [markdown] lang="ko"
# ## 6. 일부러 망가뜨려 보기
#
# **외부 IP가 될 수 없는 주소.** API 서버는 `externalIPs`를 검증한다. 127.0.0.1 같은 루프백 주소는
# 해당 필드와 이유를 담은 오류와 함께 거부된다.

# %%
loopback = nb.scratch("break-loopback.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-loopback
spec:
  type: LoadBalancer
  externalIPs:
    - 127.0.0.1
  selector:
    app.kubernetes.io/name: web-deploy
  ports:
    - port: 80
""")
with nb.expect_error():
    labs.apply("loadbalancer", [loopback])

# %% [markdown] lang="en"
# **The same nodePort twice.** 31002 is taken by `web-service-loadbalancer`; a NodePort Service that
# asks for it is refused, as in the NodePort lab.

# %% [markdown] lang="ko"
# **같은 nodePort를 두 번.** 31002번은 이미 `web-service-loadbalancer`가 쓰고 있으므로, 이 포트를
# 요청하는 NodePort 서비스는 NodePort 실습에서처럼 거부된다.

# %% tags=["expect-error"]
taken = nb.scratch("break-taken-nodeport.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-taken
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: web-deploy
  ports:
    - port: 80
      nodePort: 31002
""")
# !kubectl apply -n lab-loadbalancer -f work/break-taken-nodeport.yml

# %% [markdown] lang="en"
# ## 7. Clear the walkthrough's Service

# %% [markdown] lang="ko"
# ## 7. 실습용 서비스 삭제

# %%
# !kubectl delete svc -n lab-loadbalancer web-service-loadbalancer
# !kubectl get svc -n lab-loadbalancer

# %% [markdown] lang="en"
# ## 8. Challenge
#
# Write `web-service-loadbalancer` yourself:
#
# - type LoadBalancer, selecting the pods of `deploy-test01`;
# - port 80 to the container's port 80, **nodePort 31002**;
# - the control-plane node's address in `externalIPs` (printed in section 4; you may also write
#   `${NODE_IP}`, which the labs fill in when they apply your file).

# %% [markdown] lang="ko"
# ## 8. 도전 과제
#
# `web-service-loadbalancer`를 직접 작성한다.
#
# - 타입은 LoadBalancer, `deploy-test01`의 파드를 선택할 것
# - 서비스 port 80을 컨테이너의 80번 포트로, **nodePort는 31002**
# - `externalIPs`에 컨트롤 플레인 노드 주소(4절에서 출력한 값)를 넣을 것. `${NODE_IP}`라고 써도
#   labs가 파일을 적용할 때 실제 값으로 채운다.

# %% tags=["challenge"]
my_service = """
apiVersion: v1
kind: Service
metadata:
  name: web-service-loadbalancer
spec:
  type: TODO
  selector:
    app.kubernetes.io/name: web-deploy
  externalIPs:
    - TODO
  ports:
    - protocol: TCP
      port: 80
      targetPort: 80
      nodePort: TODO
"""
path = nb.my_manifest("web-service-loadbalancer.yml", my_service)
if path:
    labs.apply("loadbalancer", [path])

# %%
lw.hints(en=["spec.type: LoadBalancer.",
             "externalIPs is a list of addresses: - 172.18.0.2 (your node's), or - ${NODE_IP}.",
             "nodePort: 31002 goes in the same ports entry as port: 80."],
         ko=["spec.type: LoadBalancer",
             "externalIPs는 주소 목록이다: - 172.18.0.2 (노드 주소) 또는 - ${NODE_IP}",
             "nodePort: 31002는 port: 80과 같은 ports 항목에 적는다."])

# %% [markdown] lang="en"
# ## 9. Check

# %% [markdown] lang="ko"
# ## 9. 채점

# %% tags=["check"]
labs.check("loadbalancer")

# %% [markdown] lang="en"
# ## 10. Clean up

# %% [markdown] lang="ko"
# ## 10. 리소스 정리

# %%
lw.stop_all()
labs.reset("loadbalancer")
