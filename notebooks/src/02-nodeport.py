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
# # Lab 2 - NodePort: reaching pods from outside the cluster
#
# **You will learn to**
# - expose a Deployment on a fixed port of *every* node (`nodePort`, 30000-32767);
# - tell apart the three ports of a Service: `nodePort` (node), `port` (Service), `targetPort` (pod);
# - see that a NodePort Service is also a ClusterIP Service;
# - read the API server's error when two Services want the same `nodePort`;
# - write a NodePort Service yourself and have it graded.
#
# Run the cells from top to bottom (Shift+Enter). Running the whole notebook again starts the lab
# from scratch.

# %% [markdown] lang="ko"
# # 실습 2 - NodePort: 클러스터 밖에서 파드에 접근하기
#
# **이 실습에서 배우는 것**
# - 디플로이먼트를 *모든* 노드의 고정 포트(`nodePort`, 30000~32767)로 노출하기
# - 서비스의 세 가지 포트 구분하기: `nodePort`(노드), `port`(서비스), `targetPort`(파드)
# - NodePort 서비스가 ClusterIP 기능도 함께 가진다는 점 확인하기
# - 두 서비스가 같은 `nodePort`를 쓰려 할 때 API 서버가 돌려주는 오류 읽기
# - NodePort 서비스를 직접 작성하고 채점받기
#
# 셀을 위에서부터 차례로 실행한다(Shift+Enter). 노트북 전체를 다시 실행하면 실습이 처음 상태부터
# 다시 시작된다.

# %% [markdown] lang="en"
# ## 1. Set up
#
# The setup cell connects to the lab cluster, deletes the namespace `lab-nodeport` if an earlier
# run left it, and applies what the lab gives you: the web Deployment `deploy-test01` (three nginx
# pods labelled `app.kubernetes.io/name: web-deploy`, each answering with its own pod name) and the
# client pod `nginx01` we curl from.

# %% [markdown] lang="ko"
# ## 1. 실습 준비
#
# 준비 셀은 실습 클러스터에 연결하고, 이전 실행에서 남은 `lab-nodeport` 네임스페이스가 있으면
# 지운 다음 실습에 필요한 리소스를 배포한다. 웹 디플로이먼트 `deploy-test01`(라벨이
# `app.kubernetes.io/name: web-deploy`인 nginx 파드 3개, 각 파드는 응답에 자기 파드 이름을 담는다)과
# curl을 보낼 클라이언트 파드 `nginx01`이다.

# %%
import labs
from labs import notebooks as nb
from labs import widgets as lw

lab = nb.fresh("nodeport")

# %%
# !kubectl get all -n lab-nodeport

# %% [markdown] lang="en"
# ## 2. The concept
#
# A NodePort Service opens the same port, by default from the range **30000-32767**, on **every node**
# of the cluster. A request to `<any node IP>:<nodePort>` is handed to the Service and then to one of
# its pods, whichever node that pod runs on. A NodePort Service also gets a cluster IP, so everything
# from the ClusterIP lab still works inside the cluster.
#
# | field | who uses it | in this lab |
# |---|---|---|
# | `nodePort` | clients outside the cluster, on a node's address | 31001 |
# | `port` | clients inside the cluster, on the cluster IP or the name | 80 |
# | `targetPort` | the container port traffic finally reaches | 80 (nginx) |
#
# ```mermaid
# flowchart LR
#   user(["client outside the cluster"]) --> n1["control-plane node<br/>NODE_IP:31001"]
#   user --> n2["worker node<br/>NODE_IP:31001"]
#   inside(["nginx01 in the cluster"]) --> svc
#   n1 --> svc["Service web-service-nodeport<br/>CLUSTER-IP:80"]
#   n2 --> svc
#   svc -- "targetPort 80" --> p1["pod deploy-test01-…"]
#   svc -- "targetPort 80" --> p2["pod deploy-test01-…"]
#   svc -- "targetPort 80" --> p3["pod deploy-test01-…"]
# ```
#
# Which pod answers is chosen per connection by kube-proxy. In its default iptables mode the choice is
# **random** (each endpoint with equal probability), not round robin: round robin belonged to the old
# userspace mode, removed in Kubernetes 1.26.

# %% [markdown] lang="ko"
# ## 2. 개념
#
# NodePort 서비스는 클러스터의 **모든 노드**에서 같은 포트(기본 범위 **30000~32767**)를 연다.
# `<아무 노드 IP>:<nodePort>`로 들어온 요청은 서비스로 전달되고, 다시 서비스에 연결된 파드 중
# 하나로 전달된다. 파드가 어느 노드에 떠 있는지는 상관없다. NodePort 서비스는 ClusterIP 기능도
# 포함하므로 클러스터 IP가 함께 할당되고, 클러스터 내부 통신도 그대로 된다.
#
# | 필드 | 누가 쓰는가 | 이 실습의 값 |
# |---|---|---|
# | `nodePort` | 클러스터 외부 클라이언트가 노드 주소로 접근할 때 | 31001 |
# | `port` | 클러스터 내부에서 클러스터 IP나 서비스 이름으로 접근할 때 | 80 |
# | `targetPort` | 트래픽이 최종적으로 도착하는 컨테이너 포트 | 80 (nginx) |
#
# ```mermaid
# flowchart LR
#   user(["클러스터 외부 클라이언트"]) --> n1["컨트롤 플레인 노드<br/>NODE_IP:31001"]
#   user --> n2["워커 노드<br/>NODE_IP:31001"]
#   inside(["클러스터 내부의 nginx01"]) --> svc
#   n1 --> svc["서비스 web-service-nodeport<br/>CLUSTER-IP:80"]
#   n2 --> svc
#   svc -- "targetPort 80" --> p1["파드 deploy-test01-…"]
#   svc -- "targetPort 80" --> p2["파드 deploy-test01-…"]
#   svc -- "targetPort 80" --> p3["파드 deploy-test01-…"]
# ```
#
# 어느 파드가 응답할지는 kube-proxy가 연결마다 정한다. 기본값인 iptables 모드에서는
# **무작위**(엔드포인트마다 같은 확률)로 고르며, 라운드 로빈이 아니다. 라운드 로빈은 예전
# userspace 모드의 방식이었고, 이 모드는 쿠버네티스 1.26에서 제거되었다.

# %% [markdown] lang="en"
# ## 3. Create the NodePort Service
#
# The manifest from the source material: `type: NodePort`, the selector that finds the web pods, and
# the three ports.

# %% [markdown] lang="ko"
# ## 3. NodePort 서비스 생성
#
# 원본 글의 매니페스트를 그대로 사용한다. `type: NodePort`, 웹 파드를 찾는 셀렉터, 그리고 세 가지
# 포트가 들어 있다.

# %%
# !cat ../../manifests/nodeport/service-test01.yml

# %%
# !kubectl apply -n lab-nodeport -f ../../manifests/nodeport/service-test01.yml
lw.wait_endpoints("lab-nodeport", "web-service-nodeport", 3)

# %% [markdown] lang="en"
# `PORT(S)` reads `80:31001/TCP`: the Service's port 80 is reachable on port 31001 of every node.
# The endpoints are the three pods, and `kubectl get pod -o wide` shows on which nodes they run.

# %% [markdown] lang="ko"
# `PORT(S)` 항목이 `80:31001/TCP`로 표시된다. 서비스의 80번 포트가 모든 노드의 31001번 포트와
# 매핑되었다는 뜻이다. 엔드포인트에는 파드 3개가 등록되어 있고, `kubectl get pod -o wide`로 파드가
# 어느 노드에 배치되었는지 확인한다.

# %%
# !kubectl get all -n lab-nodeport
# !kubectl get endpoints -n lab-nodeport web-service-nodeport
# !kubectl get pod -n lab-nodeport -o wide
# !kubectl get nodes -o wide

# %% [markdown] lang="en"
# The port explorer lays the three ports side by side (and the container port the `targetPort`
# reaches); the diagram below it is drawn from your cluster's live addresses.

# %% [markdown] lang="ko"
# 포트 탐색기는 세 포트(그리고 `targetPort`가 가리키는 컨테이너 포트)를 나란히 보여 준다. 그 아래
# 도식은 지금 클러스터의 실제 주소로 그린 것이다.

# %%
nb.require("nodeport", "service/web-service-nodeport", section="3")
lw.port_explorer("lab-nodeport", "web-service-nodeport")
lw.path_diagram("lab-nodeport", "web-service-nodeport")

# %% [markdown] lang="en"
# ## 4. Send requests
#
# From the client pod: to the cluster IP and port 80 (the ClusterIP part), then to a node's address
# and port 31001 (the NodePort part). The answer names the pod that served it (`From=...`).

# %% [markdown] lang="ko"
# ## 4. 요청 보내기
#
# 클라이언트 파드에서 먼저 클러스터 IP의 80번 포트(ClusterIP 기능)로, 다음으로 노드 주소의
# 31001번 포트(NodePort 기능)로 요청을 보낸다. 응답에는 요청을 처리한 파드 이름(`From=...`)이
# 들어 있다.

# %% tags=["needs-exec"]
# !kubectl exec -n lab-nodeport nginx01 -- curl -s http://web-service-nodeport
node_ip = labs.node_ip()
# !kubectl exec -n lab-nodeport nginx01 -- curl -s http://{node_ip}:31001

# %% [markdown] lang="en"
# Twenty requests through the NodePort, and which pod answered each: the three pods share the load,
# at random.

# %% [markdown] lang="ko"
# NodePort로 요청 20개를 보내고 어느 파드가 응답했는지 세어 본다. 세 파드가 무작위로 나누어
# 처리한다.

# %% tags=["needs-exec"]
nb.require("nodeport", "service/web-service-nodeport", "pod/nginx01", section="3")
results = labs.probe("nodeport", f"http://{labs.node_ip()}:31001/", 20)
lw.answers_chart(results)

# %% [markdown] lang="en"
# In the source material the nodes were VMs, and the host reached `myserver02:31001` through a port
# forward in the VM manager. The lab cluster maps port 31001 of its nodes to `127.0.0.1:31001` of
# this machine, so a plain curl from here is the "browser on the host" of the walkthrough (the
# grader checks it when the cluster supports it).

# %% [markdown] lang="ko"
# 원본 글에서는 노드가 VM이었고, 호스트 PC에서 VM 관리자의 포트 포워딩을 거쳐 `myserver02:31001`에
# 접속했다. 실습 클러스터는 노드의 31001번 포트를 이 컴퓨터의 `127.0.0.1:31001`로 연결해 두었으므로,
# 여기서 보내는 curl이 원본 글의 "호스트 PC 브라우저" 역할을 한다(클러스터가 지원하면 채점에도
# 포함된다).

# %%
lw.host_chart("http://127.0.0.1:31001/", 10)

# %% [markdown] lang="en"
# ## 5. Break it
#
# **A second Service on the same nodePort.** A nodePort belongs to one Service in the whole
# cluster. Try to create another Service on 31001: the API server refuses it, and the labs point at
# the line of your file and say how to fix it.

# %% [markdown] lang="ko"
# ## 5. 일부러 망가뜨려 보기
#
# **같은 nodePort를 쓰는 두 번째 서비스.** nodePort 하나는 클러스터 전체에서 서비스 하나만 쓸 수
# 있다. 31001번을 쓰는 서비스를 하나 더 만들어 보면 API 서버가 거부하고, labs가 파일의 해당 줄과
# 고치는 방법을 알려 준다.

# %%
duplicate = nb.scratch("break-duplicate-nodeport.yml", """
apiVersion: v1
kind: Service
metadata:
  name: web-service-nodeport-copy
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: web-deploy
  ports:
    - port: 80
      targetPort: 80
      nodePort: 31001
""")
with nb.expect_error():
    labs.apply("nodeport", [duplicate])

# %% [markdown] lang="en"
# The same file with `kubectl`: the message is the API server's own.

# %% [markdown] lang="ko"
# 같은 파일을 `kubectl`로 적용하면 API 서버의 메시지가 그대로 출력된다.

# %% tags=["expect-error"]
# !kubectl apply -n lab-nodeport -f work/break-duplicate-nodeport.yml

# %% [markdown] lang="en"
# **A pod goes away during a stream of requests.** The live table below follows the Service's
# endpoints through a watch. The next cell sends requests in six batches and deletes one web pod
# after the second batch: watch its endpoint leave, the Deployment's replacement pod (with a new
# name and a new IP) join, and the requests keep being answered.

# %% [markdown] lang="ko"
# **요청을 보내는 도중에 파드가 사라지면.** 아래 실시간 표는 watch로 서비스의 엔드포인트를
# 따라간다. 다음 셀은 요청을 여섯 묶음으로 보내면서 두 번째 묶음 뒤에 웹 파드 하나를 삭제한다.
# 삭제된 파드의 엔드포인트가 빠지고, 디플로이먼트가 만든 새 파드(새 이름, 새 IP)가 들어오며,
# 요청은 계속 응답받는 것을 확인한다.

# %%
nb.require("nodeport", "service/web-service-nodeport", section="3")
endpoints = lw.endpoints_table("lab-nodeport", "web-service-nodeport")

# %% tags=["needs-exec"]
lw.requests_while_deleting("nodeport", "http://web-service-nodeport/")
lw.wait_rollout("lab-nodeport", "deploy-test01")

# %% [markdown] lang="en"
# ## 6. Clear the walkthrough's Service
#
# The challenge asks you to write this Service yourself, so delete the one from the source material.

# %% [markdown] lang="ko"
# ## 6. 실습용 서비스 삭제
#
# 도전 과제에서 이 서비스를 직접 작성하므로, 원본 글의 서비스는 삭제한다.

# %%
endpoints.stop()
# !kubectl delete -n lab-nodeport -f ../../manifests/nodeport/service-test01.yml
# !kubectl get svc -n lab-nodeport

# %% [markdown] lang="en"
# ## 7. Challenge
#
# Write the NodePort Service yourself in the cell below, replacing every `TODO`:
#
# - name `web-service-nodeport`, type NodePort;
# - it selects the pods of `deploy-test01`;
# - port 80 of the Service, **nodePort 31001**;
# - reach the container through its **port name** `http` instead of the number (look at
#   `kubectl get deploy deploy-test01 -n lab-nodeport -o yaml` for the name).
#
# Running the cell writes your YAML to `work/web-service-nodeport.yml` (in this folder) and applies
# it. Stuck? Reveal the hints one at a time.

# %% [markdown] lang="ko"
# ## 7. 도전 과제
#
# 아래 셀의 `TODO`를 모두 채워 NodePort 서비스를 직접 작성한다.
#
# - 이름은 `web-service-nodeport`, 타입은 NodePort
# - `deploy-test01`의 파드를 선택할 것
# - 서비스의 port는 80, **nodePort는 31001**
# - 컨테이너 포트를 숫자 대신 **포트 이름** `http`로 지정할 것(이름은
#   `kubectl get deploy deploy-test01 -n lab-nodeport -o yaml`에서 확인)
#
# 셀을 실행하면 작성한 YAML이 `work/web-service-nodeport.yml`(이 폴더 안)에 저장되고 적용된다.
# 막히면 힌트를 하나씩 열어 본다.

# %% tags=["challenge"]
my_service = """
apiVersion: v1
kind: Service
metadata:
  name: web-service-nodeport
spec:
  type: TODO
  selector:
    TODO: TODO
  ports:
    - protocol: TCP
      port: 80
      targetPort: TODO
      nodePort: TODO
"""
path = nb.my_manifest("web-service-nodeport.yml", my_service)
if path:
    labs.apply("nodeport", [path])

# %%
lw.hints(en=["The type is spelled exactly NodePort.",
             "The selector is the label of the web pods: app.kubernetes.io/name: web-deploy.",
             "targetPort: http refers to the containerPort named http (80).",
             "nodePort: 31001 must be in 30000-32767 and free in the cluster."],
         ko=["타입은 정확히 NodePort로 쓴다.",
             "셀렉터는 웹 파드의 라벨이다: app.kubernetes.io/name: web-deploy",
             "targetPort: http 는 이름이 http인 containerPort(80)를 가리킨다.",
             "nodePort: 31001 은 30000~32767 범위 안이어야 하고 클러스터에서 비어 있어야 한다."])

# %% [markdown] lang="en"
# ## 8. Check
#
# Each objective of the lab, passing or failing, with what was expected, what was found and a
# hint. The same checks run with `make check LAB=nodeport`.

# %% [markdown] lang="ko"
# ## 8. 채점
#
# 실습의 목표마다 통과 여부와 기대값, 실제 값, 힌트를 보여 준다. `make check LAB=nodeport`도 같은
# 채점을 한다.

# %% tags=["check"]
labs.check("nodeport")

# %% [markdown] lang="en"
# ## 9. Clean up
#
# Stops the live tables and deletes the namespace `lab-nodeport` with everything in it (your file
# in `work/` stays).

# %% [markdown] lang="ko"
# ## 9. 리소스 정리
#
# 실시간 표를 멈추고 `lab-nodeport` 네임스페이스와 그 안의 리소스를 모두 삭제한다(`work/`의
# 파일은 남는다).

# %%
lw.stop_all()
labs.reset("nodeport")
